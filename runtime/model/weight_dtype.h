// Weights in another precision: what `--dtype` does, after sharding, so that each rank converts (and
// reads) only its own share.
#pragma once

#include "runtime/model/model_weights.h"

namespace shardlm {

// `tensor` in `dtype`: itself when it already is, else a converted copy.
Tensor convert_tensor(const Tensor& tensor, DType dtype);
// Every matrix (projections, embeddings, LM head) to `dtype`; norms and biases stay f32. For int8,
// the projections are quantized per output row (Linear::scale) and the embeddings and LM head become
// bf16, as load_in_8bit leaves them: a lookup table and the logits are where int8 errors show most.
void convert_matrices(ModelWeights& weights, DType dtype);
// `linear`'s weight as int8 with one f32 scale per output row (kernels/ref's absmax rule).
void quantize_linear_int8(Linear& linear);

}  // namespace shardlm
