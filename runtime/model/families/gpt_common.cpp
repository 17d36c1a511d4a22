#include "runtime/model/families/gpt_common.h"

#include <fmt/format.h>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

FfnKind gpt_activation(const std::string& name, const std::string& config_path) {
  if (name == "gelu") return FfnKind::gelu;  // transformers' "gelu" is the exact erf form
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return FfnKind::gelu_tanh;
  SHARDLM_FAIL("'{}': activation_function '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh)", config_path,
               name);
}

}  // namespace

ModelSpec read_gpt_style_config(const ConfigJson& c, const std::string& family, const std::string& activation) {
  ModelSpec s;
  s.family = family;
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"n_embd", "hidden_size"});
  s.layers = c.integer({"n_layer", "num_hidden_layers"});
  s.heads = c.integer({"n_head", "num_attention_heads"});
  SHARDLM_CHECK(s.heads > 0, "'{}': n_head must be positive", c.path());
  s.head_dim = s.hidden / s.heads;
  s.ffn_hidden = c.integer_or({"n_inner"}, 4 * s.hidden);
  s.max_seq_len = c.integer({"n_positions", "max_position_embeddings"});
  s.ffn = gpt_activation(c.string_or("activation_function", activation), c.path());
  s.norm = NormKind::layernorm;
  s.norm_bias = true;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  s.position = PositionKind::learned;
  s.attention_bias = s.mlp_bias = true;
  s.tied_embeddings = c.boolean_or("tie_word_embeddings", true);
  SHARDLM_CHECK(c.boolean_or("scale_attn_weights", true) && !c.boolean_or("scale_attn_by_inverse_layer_idx", false) &&
                    !c.boolean_or("reorder_and_upcast_attn", false),
                "'{}': attention scaling variants (scale_attn_weights false, by layer index, upcast) are not supported",
                c.path());
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_gpt_style_weights(const ModelSpec& s, const WeightLoader& w, bool transposed) {
  auto linear = [&](const std::string& prefix, int64_t out, int64_t in) {
    return Linear{transposed ? w.matrix_transposed(prefix + ".weight", out, in) : w.matrix(prefix + ".weight", out, in),
                  w.vector(prefix + ".bias", out)};
  };
  ModelWeights m;
  m.token_embedding = w.matrix("transformer.wte.weight", s.vocab_size, s.hidden);
  m.position_embedding = w.matrix("transformer.wpe.weight", s.max_seq_len, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("transformer.h.{}.", l);
    LayerWeights layer;
    layer.attn_norm = w.norm(p + "ln_1", s.hidden);
    layer.ffn_norm = w.norm(p + "ln_2", s.hidden);
    layer.qkv = linear(p + "attn.c_attn", s.q_dim() + 2 * s.kv_dim(), s.hidden);
    layer.o = linear(p + "attn.c_proj", s.hidden, s.q_dim());
    layer.up = linear(p + "mlp.c_fc", s.ffn_hidden, s.hidden);
    layer.down = linear(p + "mlp.c_proj", s.hidden, s.ffn_hidden);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.ln_f", s.hidden);
  m.lm_head = s.tied_embeddings ? m.token_embedding : w.matrix("lm_head.weight", s.vocab_size, s.hidden);
  return m;
}

}  // namespace shardlm
