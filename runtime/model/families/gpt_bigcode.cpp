// GPT-BigCode (StarCoder, OctoCoder): learned positions, LayerNorm, multi-query attention with a
// [Q | K | V] fused projection, GELU MLP, biases everywhere, tied embeddings.
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"
#include "runtime/model/families/gpt_activation.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "gpt_bigcode";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"n_embd", "hidden_size"});
  s.layers = c.integer({"n_layer", "num_hidden_layers"});
  s.heads = c.integer({"n_head", "num_attention_heads"});
  SHARDLM_CHECK(s.heads > 0, "'{}': n_head must be positive", c.path());
  s.head_dim = s.hidden / s.heads;
  const bool multi_query = c.boolean_or("multi_query", true);
  s.kv_heads = multi_query ? 1 : s.heads;
  s.qkv_layout = multi_query ? QkvLayout::blocks : QkvLayout::per_head;
  s.ffn_hidden = c.integer_or({"n_inner"}, 4 * s.hidden);
  s.max_seq_len = c.integer({"n_positions", "max_position_embeddings"});
  s.ffn = gpt_activation(c.string_or("activation_function", "gelu_pytorch_tanh"), c.path());
  s.norm = NormKind::layernorm;
  s.norm_bias = true;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  s.position = PositionKind::learned;
  s.attention_bias = s.mlp_bias = true;
  s.tied_embeddings = c.boolean_or("tie_word_embeddings", true);
  SHARDLM_CHECK(c.boolean_or("scale_attn_weights", true), "'{}': scale_attn_weights = false is not supported", c.path());
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) {
  ModelWeights m;
  m.token_embedding = w.matrix("transformer.wte.weight", s.vocab_size, s.hidden);
  m.position_embedding = w.matrix("transformer.wpe.weight", s.max_seq_len, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("transformer.h.{}.", l);
    LayerWeights layer;
    layer.attn_norm = w.norm(p + "ln_1", s.hidden);
    layer.ffn_norm = w.norm(p + "ln_2", s.hidden);
    layer.qkv = w.linear(p + "attn.c_attn", s.q_dim() + 2 * s.kv_dim(), s.hidden, true);
    layer.o = w.linear(p + "attn.c_proj", s.hidden, s.hidden, true);
    layer.up = w.linear(p + "mlp.c_fc", s.ffn_hidden, s.hidden, true);
    layer.down = w.linear(p + "mlp.c_proj", s.hidden, s.ffn_hidden, true);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.ln_f", s.hidden);
  m.lm_head = s.tied_embeddings ? m.token_embedding : w.matrix("lm_head.weight", s.vocab_size, s.hidden);
  return m;
}

}  // namespace

const Family& gpt_bigcode_family() {
  static const Family family{"gpt_bigcode", {"GPTBigCodeForCausalLM", "gpt_bigcode"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
