// Weights in another precision: what `--dtype` does, after sharding, so that each rank converts (and
// reads) only its own share.
#pragma once

#include "runtime/model/model_weights.h"

namespace shardlm {

// `tensor` in `dtype`: itself when it already is, else a converted copy.
Tensor convert_tensor(const Tensor& tensor, DType dtype);
// Every matrix (projections, embeddings, LM head) to `dtype`; norms and biases stay f32.
void convert_matrices(ModelWeights& weights, DType dtype);

}  // namespace shardlm
