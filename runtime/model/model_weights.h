// The tensors of a decoder, by role. Tensors may view a memory-mapped checkpoint directly.
#pragma once

#include <vector>

#include "runtime/core/tensor.h"

namespace shardlm {

struct LayerWeights {
  Tensor attn_norm;            // [hidden]
  Tensor wq, wk, wv, wo;       // [q_dim, hidden], [kv_dim, hidden] x2, [hidden, q_dim]
  Tensor ffn_norm;             // [hidden]
  Tensor w_gate, w_up, w_down; // [ffn, hidden] x2, [hidden, ffn]
};

struct ModelWeights {
  Tensor token_embedding;      // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Tensor final_norm;           // [hidden]
  Tensor lm_head;              // [vocab, hidden]; the embedding itself when tied
};

}  // namespace shardlm
