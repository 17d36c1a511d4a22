// BLOOM: ALiBi (BLOOM's slope rule), LayerNorm on the word embeddings, per-head interleaved fused QKV,
// biases everywhere, GELU (tanh form) MLP of 4 x hidden, tied embeddings.
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "bloom";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"hidden_size", "n_embed"});
  s.layers = c.integer({"n_layer", "num_hidden_layers"});
  s.heads = c.integer({"n_head", "num_attention_heads"});
  SHARDLM_CHECK(s.heads > 0, "'{}': n_head must be positive", c.path());
  s.kv_heads = s.heads;
  s.head_dim = s.hidden / s.heads;
  s.ffn_hidden = 4 * s.hidden;
  s.max_seq_len = c.integer_or({"seq_length", "max_position_embeddings"}, 2048);  // ALiBi: the trained length
  s.ffn = FfnKind::gelu_tanh;
  s.norm = NormKind::layernorm;
  s.norm_bias = true;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  s.position = PositionKind::alibi;
  s.alibi_rule = AlibiRule::bloom;
  s.qkv_layout = QkvLayout::per_head;
  s.attention_bias = s.mlp_bias = true;
  s.embedding_norm = true;
  s.tied_embeddings = true;
  SHARDLM_CHECK(!c.boolean_or("apply_residual_connection_post_layernorm", false),
                "'{}': apply_residual_connection_post_layernorm = true is not supported", c.path());
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) {
  ModelWeights m;
  m.token_embedding = w.matrix("transformer.word_embeddings.weight", s.vocab_size, s.hidden);
  m.embedding_norm = w.norm("transformer.word_embeddings_layernorm", s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("transformer.h.{}.", l);
    LayerWeights layer;
    layer.attn_norm = w.norm(p + "input_layernorm", s.hidden);
    layer.ffn_norm = w.norm(p + "post_attention_layernorm", s.hidden);
    layer.qkv = w.linear(p + "self_attention.query_key_value", 3 * s.hidden, s.hidden, true);
    layer.o = w.linear(p + "self_attention.dense", s.hidden, s.hidden, true);
    layer.up = w.linear(p + "mlp.dense_h_to_4h", s.ffn_hidden, s.hidden, true);
    layer.down = w.linear(p + "mlp.dense_4h_to_h", s.hidden, s.ffn_hidden, true);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.ln_f", s.hidden);
  m.lm_head = m.token_embedding;
  return m;
}

}  // namespace

const Family& bloom_family() {
  static const Family family{"bloom", {"BloomForCausalLM", "bloom"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
