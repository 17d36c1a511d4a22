// Hugging Face checkpoint directories: config.json plus safetensors (single or sharded).
#pragma once

#include <optional>
#include <string>

#include "runtime/model/model_weights.h"

namespace shardlm {

// matrix_dtype: the dtype matrices are kept in; nullopt keeps the checkpoint's own (no copy).
LoadedModel read_hf_model(const std::string& directory, std::optional<DType> matrix_dtype);

}  // namespace shardlm
