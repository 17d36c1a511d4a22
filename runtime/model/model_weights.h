// The tensors of a decoder, by role, the same for every family. Matrices may view a memory-mapped
// checkpoint directly (in its own dtype); norm weights and biases are f32.
#pragma once

#include <vector>

#include "runtime/core/tensor.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

struct Linear {
  Tensor weight;  // [out, in]
  Tensor bias;    // [out], or undefined when the layer has none
  Tensor scale{};  // [out] f32 when weight is int8 (row r's values are its bytes times scale[r]); else undefined
};

struct Norm {
  Tensor weight;  // [hidden]
  Tensor bias;    // [hidden] for LayerNorm with bias; undefined otherwise
  bool defined() const { return weight.defined(); }
};

struct LayerWeights {
  Norm attn_norm;
  Norm ffn_norm;       // undefined when the MLP reads attn_norm's output (Falcon-7B's one shared norm)
  Linear qkv;          // fused projection, laid out as ModelSpec::qkv_layout says; or:
  Linear q, k, v;      // separate projections (QkvLayout::separate)
  Linear o;
  Linear gate, up, down;  // gate only for SwiGLU
};

struct ModelWeights {
  Tensor token_embedding;     // [vocab, hidden]
  Tensor position_embedding;  // [max positions, hidden] for learned positions
  Norm embedding_norm;        // BLOOM's LayerNorm on the word embeddings
  std::vector<LayerWeights> layers;
  Norm final_norm;
  Tensor lm_head;             // [vocab, hidden]; the embedding itself when tied
};

// A model ready for the decoder: what it is and its tensors.
struct LoadedModel {
  ModelSpec spec;
  ModelWeights weights;
};

}  // namespace shardlm
