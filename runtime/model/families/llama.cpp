// Llama (Llama-2, SmolLM2, ...): RMSNorm, RoPE on halves, GQA, SwiGLU, separate q/k/v projections.
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {
namespace {

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
  if (c.has("rope_scaling")) {
    const ConfigJson scaling = c.object("rope_scaling");
    const std::string type = scaling.string_or("rope_type", scaling.string_or("type", "default"));
    s.rope_scaling_factor = static_cast<float>(scaling.number_or({"factor"}, 1.0));
    if (type == "linear") {
      s.rope_scaling = RopeScaling::linear;
    } else if (type == "dynamic") {
      s.rope_scaling = RopeScaling::dynamic_ntk;
      s.rope_original_context = static_cast<float>(scaling.number_or({"original_max_position_embeddings"},
                                                                      static_cast<double>(s.max_seq_len)));
      // Dynamic NTK keeps working past any length; the context it is meant to reach is factor x trained.
      s.max_seq_len = static_cast<int64_t>(s.rope_original_context * s.rope_scaling_factor);
    } else {
      SHARDLM_CHECK(type == "default", "'{}': rope_scaling type '{}' is not supported (linear, dynamic)", c.path(), type);
    }
  }
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
