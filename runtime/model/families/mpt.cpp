// MPT: ALiBi (MPT's slope rule with alibi_bias_max), LayerNorm without bias, [Q | K | V] fused QKV
// optionally clamped (clip_qkv), exact GELU MLP of expansion_ratio x d_model, tied embeddings.
#include <fmt/format.h>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s;
  s.family = "mpt";
  s.vocab_size = c.integer({"vocab_size"});
  s.hidden = c.integer({"d_model"});
  s.layers = c.integer({"n_layers"});
  s.heads = c.integer({"n_heads"});
  SHARDLM_CHECK(s.heads > 0, "'{}': n_heads must be positive", c.path());
  s.kv_heads = s.heads;
  s.head_dim = s.hidden / s.heads;
  s.ffn_hidden = static_cast<int64_t>(c.number_or({"expansion_ratio"}, 4.0) * s.hidden);
  s.max_seq_len = c.integer_or({"max_seq_len"}, 2048);
  s.ffn = FfnKind::gelu;
  s.norm = NormKind::layernorm;
  s.norm_eps = static_cast<float>(c.number_or({"layer_norm_epsilon"}, 1e-5));
  const bool no_bias = c.boolean_or("no_bias", true);
  s.attention_bias = s.mlp_bias = !no_bias;
  s.norm_bias = !no_bias;
  const ConfigJson attn = c.object("attn_config");
  SHARDLM_CHECK(attn.boolean_or("alibi", true), "'{}': MPT without ALiBi is not supported", c.path());
  SHARDLM_CHECK(!attn.boolean_or("qk_ln", false), "'{}': MPT with qk_ln is not supported", c.path());
  s.position = PositionKind::alibi;
  s.alibi_rule = AlibiRule::mpt;
  s.alibi_bias_max = static_cast<float>(attn.number_or({"alibi_bias_max"}, 8.0));
  s.clip_qkv = static_cast<float>(attn.number_or({"clip_qkv"}, 0.0));
  s.attention_scale = static_cast<float>(attn.number_or({"softmax_scale"}, 0.0));
  s.qkv_layout = QkvLayout::blocks;
  s.tied_embeddings = true;
  read_special_tokens(c, s);
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) {
  ModelWeights m;
  m.token_embedding = w.matrix("transformer.wte.weight", s.vocab_size, s.hidden);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = fmt::format("transformer.blocks.{}.", l);
    LayerWeights layer;
    layer.attn_norm = w.norm(p + "norm_1", s.hidden);
    layer.ffn_norm = w.norm(p + "norm_2", s.hidden);
    layer.qkv = w.linear(p + "attn.Wqkv", 3 * s.hidden, s.hidden, s.attention_bias);
    layer.o = w.linear(p + "attn.out_proj", s.hidden, s.hidden, s.attention_bias);
    layer.up = w.linear(p + "ffn.up_proj", s.ffn_hidden, s.hidden, s.mlp_bias);
    layer.down = w.linear(p + "ffn.down_proj", s.hidden, s.ffn_hidden, s.mlp_bias);
    m.layers.push_back(std::move(layer));
  }
  m.final_norm = w.norm("transformer.norm_f", s.hidden);
  m.lm_head = m.token_embedding;
  return m;
}

}  // namespace

const Family& mpt_family() {
  static const Family family{"mpt", {"MptForCausalLM", "MPTForCausalLM", "mpt"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
