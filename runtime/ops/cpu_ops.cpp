#include "runtime/ops/cpu_ops.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/core/mapped_file.h"

namespace shardlm {

Backend& CpuOps::memory() { return cpu_backend(); }

void CpuOps::matmul(const float* x, const Tensor& weight, const Tensor& row_scales, float* y, int64_t rows) {
  cpu::matmul(pool_, x, weight.data(), weight.dtype(), y, rows, weight.dim(0), weight.dim(1),
              row_scales.defined() ? row_scales.data_as<float>() : nullptr);
}

void CpuOps::add_bias(float* y, const Tensor& bias, int64_t rows) {
  cpu::add_bias(pool_, y, bias.data_as<float>(), rows, bias.numel());
}

void CpuOps::rmsnorm(const float* x, const Tensor& weight, float* y, int64_t rows, float eps) {
  cpu::rmsnorm(pool_, x, weight.data_as<float>(), y, rows, weight.numel(), eps);
}

void CpuOps::layernorm(const float* x, const Tensor& weight, const Tensor& bias, float* y, int64_t rows, float eps) {
  cpu::layernorm(pool_, x, weight.data_as<float>(), bias.defined() ? bias.data_as<float>() : nullptr, y, rows,
                 weight.numel(), eps);
}

void CpuOps::rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
                  const double* frequencies, float magnitude, RopeLayout layout) {
  cpu::rope(pool_, x, positions, tokens, heads, head_dim, frequencies, magnitude, layout);
}

void CpuOps::attention(const float* q, const void* keys, const void* values, float* out, const AttentionShape& shape) {
  cpu::attention(pool_, q, keys, values, out, shape);
}

void CpuOps::silu_gate(const float* gate, const float* up, float* out, int64_t n) {
  cpu::silu_gate(pool_, gate, up, out, n);
}

void CpuOps::gelu(float* x, int64_t n) { cpu::gelu(pool_, x, n); }

void CpuOps::gelu_tanh(float* x, int64_t n) { cpu::gelu_tanh(pool_, x, n); }

void CpuOps::add(float* x, const float* delta, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += delta[i];
}

void CpuOps::clamp(float* x, int64_t n, float limit) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::clamp(x[i], -limit, limit);
}

void CpuOps::embed(const Tensor& table, const int32_t* ids, int64_t count, float* out, bool accumulate) {
  const int64_t width = table.dim(1);
  const size_t row_bytes = table.bytes() / table.dim(0);
  // A table left in the mapped file is read from the file, a row at a time (copy_mapped_bytes).
  thread_local std::vector<uint8_t> read_row;
  if (table.file_backed()) read_row.resize(row_bytes);
  for (int64_t t = 0; t < count; ++t) {
    float* row = out + t * width;
    const auto* stored = static_cast<const uint8_t*>(table.data()) + ids[t] * row_bytes;
    if (table.file_backed()) {
      copy_mapped_bytes(stored, row_bytes, read_row.data());
      stored = read_row.data();
    }
    for (int64_t d = 0; d < width; ++d) {
      const float value = load_as_f32(stored, table.dtype(), d);
      row[d] = accumulate ? row[d] + value : value;
    }
  }
}

void CpuOps::split_qkv(const ModelSpec& s, const float* qkv, int64_t rows, float* q, float* k, float* v) {
  const int64_t hd = s.head_dim, Q = s.q_dim(), KV = s.kv_dim(), width = Q + 2 * KV;
  for (int64_t t = 0; t < rows; ++t) {
    const float* row = qkv + t * width;
    float *q_row = q + t * Q, *k_row = k + t * KV, *v_row = v + t * KV;
    switch (s.qkv_layout) {
      case QkvLayout::separate: break;
      case QkvLayout::blocks:
        std::memcpy(q_row, row, Q * sizeof(float));
        std::memcpy(k_row, row + Q, KV * sizeof(float));
        std::memcpy(v_row, row + Q + KV, KV * sizeof(float));
        break;
      case QkvLayout::per_head:
        for (int64_t h = 0; h < s.heads; ++h) {
          std::memcpy(q_row + h * hd, row + (3 * h) * hd, hd * sizeof(float));
          std::memcpy(k_row + h * hd, row + (3 * h + 1) * hd, hd * sizeof(float));
          std::memcpy(v_row + h * hd, row + (3 * h + 2) * hd, hd * sizeof(float));
        }
        break;
      case QkvLayout::per_kv_group: {
        const int64_t group = s.heads / s.kv_heads;
        for (int64_t j = 0; j < s.kv_heads; ++j) {
          const float* base = row + j * (group + 2) * hd;
          std::memcpy(q_row + j * group * hd, base, group * hd * sizeof(float));
          std::memcpy(k_row + j * hd, base + group * hd, hd * sizeof(float));
          std::memcpy(v_row + j * hd, base + (group + 1) * hd, hd * sizeof(float));
        }
        break;
      }
    }
  }
}

void CpuOps::gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out) {
  for (int64_t r = 0; r < count; ++r) std::copy_n(x + rows[r] * width, width, out + r * width);
}

void CpuOps::zero(float* x, int64_t n) { std::fill(x, x + n, 0.0f); }

void CpuOps::copy(void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
}

void CpuOps::write_kv(KvPool& pool, int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                      std::span<const int32_t> block_table) {
  pool.write(layer, k, v, tokens, start_pos, block_table);
}

}  // namespace shardlm
