// Llama (Llama-2, SmolLM2, ...): RMSNorm, RoPE on halves, GQA, SwiGLU, separate q/k/v projections.
#include <fmt/format.h>

#include <cmath>
#include <map>
#include <set>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {
namespace {

// rope_scaling (or, as transformers 5 writes it, rope_parameters) as transformers reads it: the type
// from "rope_type", else the older "type"; a type or key it does not take is an error naming it.
void read_rope_scaling(const ConfigJson& c, ModelSpec& s) {
  const std::string key = c.has("rope_scaling") ? "rope_scaling" : "rope_parameters";
  if (!c.has(key)) return;
  const ConfigJson scaling = c.object(key);
  if (!c.has("rope_theta")) s.rope_theta = static_cast<float>(scaling.number_or({"rope_theta"}, s.rope_theta));
  const std::string type = scaling.string_or("rope_type", scaling.string_or("type", "default"));
  static const std::map<std::string, std::set<std::string>> kTakes = {
      {"default", {}},
      {"linear", {"factor"}},
      {"dynamic", {"factor", "original_max_position_embeddings"}},
      {"llama3", {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}},
      {"yarn",
       {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale", "mscale_all_dim",
        "attention_factor", "truncate"}}};
  const auto takes = kTakes.find(type);
  SHARDLM_CHECK(takes != kTakes.end(), "'{}': rope_type '{}' is not supported (default, linear, dynamic, llama3, yarn)",
                scaling.path(), type);
  for (const std::string& k : scaling.keys())
    SHARDLM_CHECK(k == "rope_type" || k == "type" || k == "rope_theta" || takes->second.contains(k),
                  "'{}': key '{}' is not one that rope_type '{}' takes", scaling.path(), k, type);
  const auto required = [&](const char* k) {
    SHARDLM_CHECK(scaling.has(k), "'{}': rope_type '{}' needs '{}'", scaling.path(), type, k);
    return scaling.number_or({k}, 0.0);
  };
  // As transformers: a top-level original_max_position_embeddings wins, then the scaling's own, then
  // max_position_embeddings.
  const auto original_context = [&] {
    const double trained = c.number_or({"original_max_position_embeddings"},
                                       scaling.number_or({"original_max_position_embeddings"},
                                                         static_cast<double>(s.max_seq_len)));
    SHARDLM_CHECK(trained >= 1, "'{}': original_max_position_embeddings must be at least 1, got {}", scaling.path(),
                  trained);
    return static_cast<float>(trained);
  };
  if (type == "linear") {
    s.rope_scaling = RopeScaling::linear;
    s.rope_scaling_factor = static_cast<float>(scaling.number_or({"factor"}, 1.0));
  } else if (type == "dynamic") {
    s.rope_scaling = RopeScaling::dynamic_ntk;
    s.rope_scaling_factor = static_cast<float>(scaling.number_or({"factor"}, 1.0));
    s.rope_original_context = static_cast<float>(
        scaling.number_or({"original_max_position_embeddings"}, static_cast<double>(s.max_seq_len)));
    // Dynamic NTK keeps working past any length; the context it is meant to reach is factor x trained.
    s.max_seq_len = static_cast<int64_t>(s.rope_original_context * s.rope_scaling_factor);
  } else if (type == "llama3") {
    s.rope_scaling = RopeScaling::llama3;
    s.rope_scaling_factor = static_cast<float>(required("factor"));
    s.rope_low_freq_factor = static_cast<float>(required("low_freq_factor"));
    s.rope_high_freq_factor = static_cast<float>(required("high_freq_factor"));
    s.rope_original_context = original_context();
    SHARDLM_CHECK(s.rope_low_freq_factor > 0 && s.rope_high_freq_factor > s.rope_low_freq_factor,
                  "'{}': low_freq_factor {} and high_freq_factor {} must satisfy 0 < low < high", scaling.path(),
                  s.rope_low_freq_factor, s.rope_high_freq_factor);
  } else if (type == "yarn") {
    s.rope_scaling = RopeScaling::yarn;
    s.rope_original_context = original_context();
    // Without a factor, transformers takes the ratio of the two contexts.
    s.rope_scaling_factor = static_cast<float>(
        scaling.number_or({"factor"}, static_cast<double>(s.max_seq_len) / s.rope_original_context));
    // "or" in transformers: an absent, null or zero beta takes the default.
    const double fast = scaling.number_or({"beta_fast"}, 0.0), slow = scaling.number_or({"beta_slow"}, 0.0);
    s.rope_beta_fast = fast != 0 ? static_cast<float>(fast) : 32.0f;
    s.rope_beta_slow = slow != 0 ? static_cast<float>(slow) : 1.0f;
    SHARDLM_CHECK(s.rope_beta_fast > 0 && s.rope_beta_slow > 0, "'{}': beta_fast and beta_slow must be positive",
                  scaling.path());
    s.rope_yarn_truncate = scaling.boolean_or("truncate", true);
    s.rope_mscale = static_cast<float>(scaling.number_or({"mscale"}, 0.0));
    s.rope_mscale_all_dim = static_cast<float>(scaling.number_or({"mscale_all_dim"}, 0.0));
    if (scaling.has("attention_factor")) {
      s.rope_attention_factor = static_cast<float>(scaling.number_or({"attention_factor"}, 0.0));
      SHARDLM_CHECK(s.rope_attention_factor > 0, "'{}': attention_factor must be positive, got {}", scaling.path(),
                    s.rope_attention_factor);
    }
  }
  SHARDLM_CHECK(s.rope_scaling_factor >= 1 && std::isfinite(s.rope_scaling_factor),
                "'{}': factor must be a number of at least 1, got {}", scaling.path(), s.rope_scaling_factor);
}

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "llama";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"hidden_size"});
  s.layers = c.integer({"num_hidden_layers"});
  s.heads = c.integer({"num_attention_heads"});
  s.kv_heads = c.integer_or({"num_key_value_heads"}, s.heads);
  SHARDLM_CHECK(s.heads > 0, "'{}': num_attention_heads must be positive", c.path());
  s.head_dim = c.integer_or({"head_dim"}, s.hidden / s.heads);
  s.ffn_hidden = c.integer({"intermediate_size"});
  s.max_seq_len = c.integer_or({"max_position_embeddings"}, 2048);
  s.ffn = FfnKind::swiglu;
  s.norm = NormKind::rmsnorm;
  s.norm_eps = static_cast<float>(c.number_or({"rms_norm_eps"}, 1e-6));
  s.position = PositionKind::rope;
  s.rope_theta = static_cast<float>(c.number_or({"rope_theta"}, 10000.0));
  s.rope_layout = RopeLayout::halves;  // Hugging Face checkpoints are permuted for rotate_half
  const std::string activation = c.string_or("hidden_act", "silu");
  SHARDLM_CHECK(activation == "silu", "'{}': hidden_act '{}' is not supported for Llama (silu)", c.path(), activation);
  read_rope_scaling(c, s);
  s.attention_bias = c.boolean_or("attention_bias", false);
  s.mlp_bias = c.boolean_or("mlp_bias", false);
  s.tied_embeddings = c.boolean_or("tie_word_embeddings", false);
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) {
  ModelWeights m;
  m.token_embedding = w.matrix("model.embed_tokens.weight", s.vocab_size, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    LayerWeights layer;
    layer.attn_norm = w.norm(p + "input_layernorm", s.hidden);
    layer.ffn_norm = w.norm(p + "post_attention_layernorm", s.hidden);
    layer.q = w.linear(p + "self_attn.q_proj", s.q_dim(), s.hidden, s.attention_bias);
    layer.k = w.linear(p + "self_attn.k_proj", s.kv_dim(), s.hidden, s.attention_bias);
    layer.v = w.linear(p + "self_attn.v_proj", s.kv_dim(), s.hidden, s.attention_bias);
    layer.o = w.linear(p + "self_attn.o_proj", s.hidden, s.q_dim(), s.attention_bias);
    layer.gate = w.linear(p + "mlp.gate_proj", s.ffn_hidden, s.hidden, s.mlp_bias);
    layer.up = w.linear(p + "mlp.up_proj", s.ffn_hidden, s.hidden, s.mlp_bias);
    layer.down = w.linear(p + "mlp.down_proj", s.hidden, s.ffn_hidden, s.mlp_bias);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("model.norm", s.hidden);
  m.lm_head = s.tied_embeddings ? m.token_embedding : w.matrix("lm_head.weight", s.vocab_size, s.hidden);
  return m;
}

}  // namespace

const Family& llama_family() {
  static const Family family{"llama", {"LlamaForCausalLM", "llama"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
