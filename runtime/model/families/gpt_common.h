// What GPT-2 and GPT-BigCode share: the same config keys and the same tensor names (transformer.wte,
// wpe, h.N.ln_1, attn.c_attn, ...). GPT-BigCode adds multi-query attention; GPT-2 stores its
// Conv1D weights transposed.
#pragma once

#include <string>

#include "runtime/model/families/family.h"

namespace shardlm {

// The config fields both read; the caller sets kv_heads and the QKV layout.
ModelSpec read_gpt_style_config(const ConfigJson& config, const std::string& family, const std::string& activation);
// transposed: weights stored [in, out] (GPT-2's Conv1D) rather than [out, in].
ModelWeights load_gpt_style_weights(const ModelSpec& spec, const WeightLoader& loader, bool transposed);

}  // namespace shardlm
