// GPT-2: learned positions, LayerNorm, [Q | K | V] fused projection, GELU (tanh form) MLP, biases
// everywhere, tied embeddings. Its Conv1D layers store weights [in, out]: transposed at load.
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"
#include "runtime/model/families/gpt_activation.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "gpt2";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"n_embd", "hidden_size"});
  s.layers = c.integer({"n_layer", "num_hidden_layers"});
  s.heads = c.integer({"n_head", "num_attention_heads"});
  SHARDLM_CHECK(s.heads > 0, "'{}': n_head must be positive", c.path());
  s.kv_heads = s.heads;
  s.head_dim = s.hidden / s.heads;
  s.qkv_layout = QkvLayout::blocks;
  s.ffn_hidden = c.integer_or({"n_inner"}, 4 * s.hidden);
  s.max_seq_len = c.integer({"n_positions", "max_position_embeddings"});
  s.ffn = gpt_activation(c.string_or("activation_function", "gelu_new"), c.path());
  s.norm = NormKind::layernorm;
  s.norm_bias = true;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  s.position = PositionKind::learned;
  s.attention_bias = s.mlp_bias = true;
  s.tied_embeddings = true;
  SHARDLM_CHECK(c.boolean_or("scale_attn_weights", true) && !c.boolean_or("scale_attn_by_inverse_layer_idx", false) &&
                    !c.boolean_or("reorder_and_upcast_attn", false),
                "'{}': GPT-2 attention scaling variants are not supported", c.path());
  read_special_tokens(c, s);
  return s;
}

Linear conv1d(const WeightLoader& w, const std::string& prefix, int64_t out, int64_t in) {
  return {w.matrix_transposed(prefix + ".weight", out, in), w.vector(prefix + ".bias", out)};
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
    layer.qkv = conv1d(w, p + "attn.c_attn", 3 * s.hidden, s.hidden);
    layer.o = conv1d(w, p + "attn.c_proj", s.hidden, s.hidden);
    layer.up = conv1d(w, p + "mlp.c_fc", s.ffn_hidden, s.hidden);
    layer.down = conv1d(w, p + "mlp.c_proj", s.hidden, s.ffn_hidden);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.ln_f", s.hidden);
  m.lm_head = m.token_embedding;
  return m;
}

}  // namespace

const Family& gpt2_family() {
  static const Family family{"gpt2", {"GPT2LMHeadModel", "gpt2"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
