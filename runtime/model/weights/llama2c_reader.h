// Reads llama2.c checkpoints (the "legacy" version-0 export: a 7 x int32 header, then f32 arrays).
#pragma once

#include <string>

#include "runtime/core/dtype.h"
#include "runtime/model/model_spec.h"
#include "runtime/model/model_weights.h"

namespace shardlm {

// Validates the header against the file's length before touching any weight. With weight_dtype f32
// the tensors view the mapped file (no copy); bf16 / f16 convert the matrices at load, norms stay f32.
LoadedModel read_llama2c_model(const std::string& path, DType weight_dtype = DType::f32);

}  // namespace shardlm
