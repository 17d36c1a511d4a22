// DeviceOps on the host: kernels/cpu, split across the pool's threads, on memory from cpu_backend().
#pragma once

#include "runtime/core/thread_pool.h"
#include "runtime/ops/device_ops.h"

namespace shardlm {

class CpuOps : public DeviceOps {
 public:
  explicit CpuOps(ThreadPool& pool) : pool_(pool) {}

  Backend& memory() override;
  void matmul(const float* x, const Tensor& weight, const Tensor& row_scales, float* y, int64_t rows) override;
  void add_bias(float* y, const Tensor& bias, int64_t rows) override;
  void rmsnorm(const float* x, const Tensor& weight, float* y, int64_t rows, float eps) override;
  void layernorm(const float* x, const Tensor& weight, const Tensor& bias, float* y, int64_t rows, float eps) override;
  void rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
            const double* frequencies, float magnitude, RopeLayout layout) override;
  void attention(const float* q, const void* keys, const void* values, float* out, const AttentionShape& shape) override;
  void silu_gate(const float* gate, const float* up, float* out, int64_t n) override;
  void gelu(float* x, int64_t n) override;
  void gelu_tanh(float* x, int64_t n) override;
  void add(float* x, const float* delta, int64_t n) override;
  void clamp(float* x, int64_t n, float limit) override;
  void embed(const Tensor& table, const int32_t* ids, int64_t count, float* out, bool accumulate) override;
  void split_qkv(const ModelSpec& spec, const float* qkv, int64_t rows, float* q, float* k, float* v) override;
  void gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out) override;
  void zero(float* x, int64_t n) override;
  void copy(void* dst, const void* src, size_t bytes) override;
  void to_host(void* host, const void* device, size_t bytes) override { copy(host, device, bytes); }
  void from_host(void* device, const void* host, size_t bytes) override { copy(device, host, bytes); }
  void write_kv(KvPool& pool, int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                std::span<const int32_t> block_table) override;

 private:
  ThreadPool& pool_;
};

}  // namespace shardlm
