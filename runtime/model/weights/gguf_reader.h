// A GGUF model (llama.cpp's format) as a ModelSpec and weights. By default tensors stay as stored, as
// views of the mapped file: F32, F16, BF16, Q8_0 and Q4_1 are runtime dtypes; Q4_0 is repacked into
// q4_1 without changing a value, Q4_K into q4_1 (scales rounded to f16) and Q6_K into q8_0, block by
// block. Given a dtype, matrices are converted to it instead.
#pragma once

#include <optional>
#include <string>

#include "runtime/model/model_weights.h"
#include "runtime/model/weights/gguf_file.h"

namespace shardlm {

ModelSpec gguf_model_spec(const GgufFile& gguf);
LoadedModel read_gguf_model(const std::string& path, std::optional<DType> matrix_dtype);

}  // namespace shardlm
