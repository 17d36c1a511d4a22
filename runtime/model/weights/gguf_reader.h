// A GGUF model (llama.cpp's format) as a ModelSpec and weights. Quantized tensors are dequantized
// at load (to f32, or the dtype asked for).
#pragma once

#include <optional>
#include <string>

#include "runtime/model/model_weights.h"
#include "runtime/model/weights/gguf_file.h"

namespace shardlm {

ModelSpec gguf_model_spec(const GgufFile& gguf);
LoadedModel read_gguf_model(const std::string& path, std::optional<DType> matrix_dtype);

}  // namespace shardlm
