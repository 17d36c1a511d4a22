#include "runtime/model/weight_dtype.h"

#include <map>
#include <vector>

#include "runtime/backend/backend.h"

namespace shardlm {

Tensor convert_tensor(const Tensor& tensor, DType dtype) {
  if (!tensor.defined() || tensor.dtype() == dtype) return tensor;
  Tensor converted = cpu_backend().empty(tensor.shape(), dtype);
  const int64_t n = tensor.numel();
  if (dtype == DType::f32) {
    for (int64_t i = 0; i < n; ++i) converted.data_as<float>()[i] = load_as_f32(tensor.data(), tensor.dtype(), i);
    return converted;
  }
  std::vector<float> staging(n);
  for (int64_t i = 0; i < n; ++i) staging[i] = load_as_f32(tensor.data(), tensor.dtype(), i);
  convert_from_f32(staging.data(), converted.data(), dtype, n);
  return converted;
}

void convert_matrices(ModelWeights& w, DType dtype) {
  // A tensor serving two roles (a tied LM head) is converted once and stays shared.
  std::map<const void*, Tensor> done;
  auto convert = [&](Tensor& t) {
    if (!t.defined()) return;
    auto [at, inserted] = done.try_emplace(t.data());
    if (inserted) at->second = convert_tensor(t, dtype);
    t = at->second;
  };
  convert(w.token_embedding);
  convert(w.position_embedding);
  convert(w.lm_head);
  for (LayerWeights& layer : w.layers)
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down})
      convert(linear->weight);
}

}  // namespace shardlm
