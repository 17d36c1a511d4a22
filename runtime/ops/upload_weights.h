// Model weights moved onto a device: what a rank does once before running its decoder there.
#pragma once

#include <span>

#include "runtime/backend/backend.h"
#include "runtime/model/model_weights.h"

namespace shardlm {

// The weights copied into `memory`, each tensor once even where two roles share it (a tied LM head).
// Every matrix must be in one of `matrix_dtypes`' dtypes (what the device's products run): otherwise
// it throws naming the tensor, before anything is copied.
ModelWeights upload_weights(const ModelWeights& weights, Backend& memory, std::span<const DType> matrix_dtypes);

}  // namespace shardlm
