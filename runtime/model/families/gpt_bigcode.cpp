// GPT-BigCode (StarCoder, OctoCoder): GPT-2's block with multi-query attention (one K/V head:
// [Q | K | V] with K and V one head wide) and plain [out, in] linears.
#include "runtime/model/families/gpt_common.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s = read_gpt_style_config(c, "gpt_bigcode", "gelu_pytorch_tanh");
  const bool multi_query = c.boolean_or("multi_query", true);
  s.kv_heads = multi_query ? 1 : s.heads;
  s.qkv_layout = multi_query ? QkvLayout::blocks : QkvLayout::per_head;
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) { return load_gpt_style_weights(s, w, false); }

}  // namespace

const Family& gpt_bigcode_family() {
  static const Family family{"gpt_bigcode", {"GPTBigCodeForCausalLM", "gpt_bigcode"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
