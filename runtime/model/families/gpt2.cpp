// GPT-2: learned positions, LayerNorm, [Q | K | V] fused projection, GELU (tanh form) MLP, biases
// everywhere, tied embeddings. Its Conv1D layers store weights [in, out]: transposed at load.
#include "runtime/model/families/gpt_common.h"

namespace shardlm {
namespace {

ModelSpec read_config(const ConfigJson& c) {
  ModelSpec s = read_gpt_style_config(c, "gpt2", "gelu_new");
  s.kv_heads = s.heads;
  s.qkv_layout = QkvLayout::blocks;
  return s;
}

ModelWeights load_weights(const ModelSpec& s, const WeightLoader& w) { return load_gpt_style_weights(s, w, true); }

}  // namespace

const Family& gpt2_family() {
  static const Family family{"gpt2", {"GPT2LMHeadModel", "gpt2"}, read_config, load_weights};
  return family;
}

}  // namespace shardlm
