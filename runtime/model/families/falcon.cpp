// Falcon: LayerNorm, RoPE on halves, GELU MLP of 4 x hidden, parallel attention + MLP, fused QKV in
// one of three layouts (multi-query blocks, per-KV-group for the new decoder architecture, per head).
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "falcon";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"hidden_size", "n_embed"});
  s.layers = c.integer({"num_hidden_layers", "n_layer"});
  s.heads = c.integer({"num_attention_heads", "n_head"});
  SHARDLM_CHECK(s.heads > 0, "'{}': num_attention_heads must be positive", c.path());
  s.head_dim = s.hidden / s.heads;
  const bool new_architecture = c.boolean_or("new_decoder_architecture", false);
  const bool multi_query = c.boolean_or("multi_query", true);
  // transformers reads num_kv_heads only for the new architecture or without multi-query; some
  // converted Falcon-7B configs carry num_kv_heads = 71 beside multi_query and are still MQA.
  if (new_architecture || !multi_query) {
    s.kv_heads = c.integer_or({"num_kv_heads", "n_head_kv"}, s.heads);
  } else {
    s.kv_heads = 1;
  }
  s.qkv_layout = new_architecture ? QkvLayout::per_kv_group : multi_query ? QkvLayout::blocks : QkvLayout::per_head;
  s.ffn_hidden = c.integer_or({"ffn_hidden_size"}, 4 * s.hidden);
  s.max_seq_len = c.integer_or({"max_position_embeddings"}, 2048);
  s.ffn = FfnKind::gelu;
  s.norm = NormKind::layernorm;
  s.norm_bias = true;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  SHARDLM_CHECK(!c.boolean_or("alibi", false), "'{}': Falcon with ALiBi (falcon-rw) is not supported", c.path());
  s.position = PositionKind::rope;
  s.rope_theta = static_cast<float>(c.number_or({"rope_theta"}, 10000.0));
  s.rope_layout = RopeLayout::halves;
  s.parallel_attention = new_architecture || c.boolean_or("parallel_attn", true);
  // The new architecture has two norms (ln_attn, ln_mlp) unless num_ln_in_parallel_attn says 1.
  s.shared_attention_norm = s.parallel_attention && (!new_architecture || c.integer_or({"num_ln_in_parallel_attn"}, 2) == 1);
  s.attention_bias = s.mlp_bias = c.boolean_or("bias", false);
  s.tied_embeddings = c.boolean_or("tie_word_embeddings", true);
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) {
  ModelWeights m;
  m.token_embedding = w.matrix("transformer.word_embeddings.weight", s.vocab_size, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("transformer.h.{}.", l);
    LayerWeights layer;
    if (!s.parallel_attention) {
      layer.attn_norm = w.norm(p + "input_layernorm", s.hidden);
      layer.ffn_norm = w.norm(p + "post_attention_layernorm", s.hidden);
    } else if (s.shared_attention_norm) {
      layer.attn_norm = w.norm(w.has(p + "input_layernorm.weight") ? p + "input_layernorm" : p + "ln_attn", s.hidden);
    } else {
      layer.attn_norm = w.norm(p + "ln_attn", s.hidden);
      layer.ffn_norm = w.norm(p + "ln_mlp", s.hidden);
    }
    layer.qkv = w.linear(p + "self_attention.query_key_value", s.q_dim() + 2 * s.kv_dim(), s.hidden, s.attention_bias);
    layer.o = w.linear(p + "self_attention.dense", s.hidden, s.q_dim(), s.attention_bias);
    layer.up = w.linear(p + "mlp.dense_h_to_4h", s.ffn_hidden, s.hidden, s.mlp_bias);
    layer.down = w.linear(p + "mlp.dense_4h_to_h", s.hidden, s.ffn_hidden, s.mlp_bias);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.ln_f", s.hidden);
  m.lm_head = s.tied_embeddings ? m.token_embedding : w.matrix("lm_head.weight", s.vocab_size, s.hidden);
  return m;
}

}  // namespace

const Family& falcon_family() {
  static const Family family{
      "falcon", {"FalconForCausalLM", "RWForCausalLM", "falcon", "RefinedWeb", "RefinedWebModel"}, read_config,
      load_weights};
  return family;
}

}  // namespace shardlm
