#include "runtime/model/weight_dtype.h"

#include <map>
#include <vector>

#include "kernels/ref/ops.h"
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

void quantize_linear_int8(Linear& linear) {
  const Tensor& weight = linear.weight;
  if (!weight.defined() || weight.dtype() == DType::i8) return;
  const int64_t rows = weight.dim(0), k = weight.dim(1);
  Tensor quantized = cpu_backend().empty(weight.shape(), DType::i8);
  Tensor scale = cpu_backend().empty({rows}, DType::f32);
  std::vector<float> row(k);
  for (int64_t r = 0; r < rows; ++r) {  // a row at a time: no f32 copy of the whole matrix
    for (int64_t i = 0; i < k; ++i) row[i] = load_as_f32(weight.data(), weight.dtype(), r * k + i);
    ref::quantize_rows_int8(row.data(), 1, k, quantized.data_as<int8_t>() + r * k, scale.data_as<float>() + r);
  }
  linear.weight = quantized;
  linear.scale = scale;
}

void convert_matrices(ModelWeights& w, DType dtype) {
  const DType table_dtype = dtype == DType::i8 ? DType::bf16 : dtype;
  // A tensor serving two roles (a tied LM head) is converted once and stays shared.
  std::map<const void*, Tensor> done;
  auto convert = [&](Tensor& t) {
    if (!t.defined()) return;
    auto [at, inserted] = done.try_emplace(t.data());
    if (inserted) at->second = convert_tensor(t, table_dtype);
    t = at->second;
  };
  convert(w.token_embedding);
  convert(w.position_embedding);
  convert(w.lm_head);
  for (LayerWeights& layer : w.layers) {
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      if (dtype == DType::i8) {
        quantize_linear_int8(*linear);
      } else {
        convert(linear->weight);
      }
    }
  }
}

}  // namespace shardlm
