#include "runtime/model/weight_dtype.h"

#include <map>
#include <vector>

#include "kernels/ref/ops.h"
#include "runtime/backend/backend.h"
#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"

namespace shardlm {

Tensor convert_tensor(const Tensor& tensor, DType dtype) {
  if (!tensor.defined() || tensor.dtype() == dtype) return tensor;
  Tensor converted = cpu_backend().empty(tensor.shape(), dtype);
  // A row at a time, through one row of f32: no f32 copy of the whole matrix.
  const int64_t row = tensor.rank() == 0 ? 1 : tensor.dim(-1), rows = row == 0 ? 0 : tensor.numel() / row;
  const size_t row_bytes = dtype_bytes(dtype, row);
  std::vector<float> staging(row);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < row; ++i) staging[i] = load_as_f32(tensor.data(), tensor.dtype(), r * row + i);
    convert_from_f32(staging.data(), static_cast<uint8_t*>(converted.data()) + r * row_bytes, dtype, row);
  }
  return converted;
}

DType parse_weight_precision(std::string_view name, std::string_view flag) {
  if (name == "int4") return DType::q4_1;
  SHARDLM_CHECK(name == "f32" || name == "f16" || name == "bf16" || name == "int8",
                "--{} expects f32, f16, bf16, int8 or int4, got '{}'", flag, name);
  return parse_dtype(name);
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
  // int8 leaves the lookup table and the LM head in bf16 (as load_in_8bit does); int4 holds them in
  // q8_0, whose per-block scales keep them close to bf16 at half its bytes: the LM head is read whole
  // every step, and in bf16 it alone would cost a small model as much as all its int4 layers.
  const DType table_dtype = dtype == DType::i8 ? DType::bf16 : dtype == DType::q4_1 ? DType::q8_0 : dtype;
  // A tensor serving two roles (a tied LM head) is converted once and stays shared. Same start and
  // same shape: a tensor-parallel rank's LM head is the first rows of the embedding it is tied to, a
  // different tensor at the same address.
  std::map<std::pair<const void*, std::vector<int64_t>>, Tensor> done;
  auto convert = [&](Tensor& t, DType to) {
    if (!t.defined()) return;
    // Block formats need rows of whole blocks; a matrix whose rows are not keeps 16 bits.
    if (is_block_dtype(to) && t.dim(-1) % kQuantBlock != 0) to = DType::bf16;
    auto [at, inserted] = done.try_emplace({t.data(), t.shape()});
    if (inserted) {
      at->second = convert_tensor(t, to);
      if (t.file_backed() && at->second.data() != t.data()) release_mapped_pages(t.data(), t.bytes());
    }
    t = at->second;
  };
  convert(w.token_embedding, table_dtype);
  convert(w.position_embedding, table_dtype);
  convert(w.lm_head, table_dtype);
  for (LayerWeights& layer : w.layers) {
    for (Linear* linear : {&layer.qkv, &layer.q, &layer.k, &layer.v, &layer.o, &layer.gate, &layer.up, &layer.down}) {
      if (!linear->weight.defined()) continue;
      // int4 rows that are not whole groups of 32 (a tiny model's odd MLP width) take int8 per row.
      const bool whole_blocks = linear->weight.dim(1) % kQuantBlock == 0;
      if (dtype == DType::i8 || (dtype == DType::q4_1 && !whole_blocks)) {
        const Tensor source = linear->weight;
        quantize_linear_int8(*linear);
        if (source.file_backed() && linear->weight.data() != source.data())
          release_mapped_pages(source.data(), source.bytes());
      } else {
        convert(linear->weight, dtype);
      }
    }
  }
}

}  // namespace shardlm
