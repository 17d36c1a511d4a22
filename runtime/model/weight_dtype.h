// Weights in another precision: what `--dtype` does, after sharding, so that each rank converts (and
// reads) only its own share.
#pragma once

#include <string_view>

#include "runtime/model/model_weights.h"

namespace shardlm {

// `tensor` in `dtype`: itself when it already is, else a converted copy.
Tensor convert_tensor(const Tensor& tensor, DType dtype);
// Every matrix (projections, embeddings, LM head) to `dtype`; norms and biases stay f32. For int8
// (DType::i8), the projections are quantized per output row (Linear::scale) and the embeddings and LM
// head become bf16, as load_in_8bit leaves them: a lookup table and the logits are where int8 errors
// show most. For int4 (DType::q4_1), projections become q4_1 (groups of 32 with a scale and a
// minimum each) and the embeddings and LM head q8_0. Matrices already in the target stay as they are.
void convert_matrices(ModelWeights& weights, DType dtype);
// --weights' values: f32, f16, bf16, int8 (DType::i8), int4 (DType::q4_1); `flag` names the flag or
// key in the error.
DType parse_weight_precision(std::string_view name, std::string_view flag);
// `linear`'s weight as int8 with one f32 scale per output row (kernels/ref's absmax rule).
void quantize_linear_int8(Linear& linear);

}  // namespace shardlm
