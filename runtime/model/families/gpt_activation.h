// The activation_function names GPT-2-style configs use, as ShardLM's FFN kinds.
#pragma once

#include <string>

#include "runtime/core/check.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

inline FfnKind gpt_activation(const std::string& name, const std::string& config_path) {
  if (name == "gelu") return FfnKind::gelu;  // transformers' "gelu" is the exact erf form
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return FfnKind::gelu_tanh;
  SHARDLM_FAIL("'{}': activation_function '{}' is not supported (gelu, gelu_new, gelu_pytorch_tanh)", config_path, name);
}

}  // namespace shardlm
