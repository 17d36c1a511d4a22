#include "runtime/ops/upload_weights.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// Calls visit(tensor, name) on every tensor of the weights.
template <class Weights, class Visit>
void each_tensor(Weights& w, Visit visit) {
  visit(w.token_embedding, "token embedding");
  visit(w.position_embedding, "position embedding");
  visit(w.embedding_norm.weight, "embedding norm");
  visit(w.embedding_norm.bias, "embedding norm bias");
  visit(w.final_norm.weight, "final norm");
  visit(w.final_norm.bias, "final norm bias");
  visit(w.lm_head, "LM head");
  for (auto& layer : w.layers) {
    for (auto* norm : {&layer.attn_norm, &layer.ffn_norm}) visit(norm->weight, "norm"), visit(norm->bias, "norm bias");
    for (auto* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down})
      visit(linear->weight, "projection"), visit(linear->bias, "bias"), visit(linear->scale, "row scales");
  }
}

}  // namespace

ModelWeights upload_weights(const ModelWeights& weights, Backend& memory, std::span<const DType> matrix_dtypes) {
  each_tensor(weights, [&](const Tensor& t, const char* name) {
    if (!t.defined() || t.rank() != 2) return;
    if (std::find(matrix_dtypes.begin(), matrix_dtypes.end(), t.dtype()) != matrix_dtypes.end()) return;
    std::string supported;
    for (const DType dtype : matrix_dtypes) supported += (supported.empty() ? "" : ", ") + std::string(dtype_name(dtype));
    SHARDLM_FAIL("{} {} cannot run on {}: its matrices run in {} there (convert with --weights {})", name, t.describe(),
                 memory.name(), supported, dtype_name(matrix_dtypes.back()));
  });
  ModelWeights on_device = weights;
  std::map<std::pair<const void*, size_t>, Tensor> copied;  // by host address and size: tied tensors once
  each_tensor(on_device, [&](Tensor& t, const char*) {
    if (!t.defined()) return;
    auto [it, inserted] = copied.try_emplace({t.data(), t.bytes()});
    if (inserted) {
      it->second = memory.empty(t.shape(), t.dtype());
      memory.copy(it->second.data(), t.data(), t.bytes());
    }
    t = it->second;
  });
  return on_device;
}

}  // namespace shardlm
