// The operations a decoder step runs, on the memory of one device: the decoder calls only these, so
// the same decoder, engine, sharding and pipeline code serve every device. Pointers are into the
// device's memory (ops.memory() allocates it); weights are tensors already on that device. The CPU
// implementation (cpu_ops.h) owns the thread pool and calls kernels/cpu; a CUDA one would own a
// stream, a cuBLAS handle and a workspace.
#pragma once

#include <cstdint>

#include "kernels/ref/ops.h"
#include "runtime/backend/backend.h"
#include "runtime/core/tensor.h"
#include "runtime/model/kv_pool.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

class DeviceOps {
 public:
  virtual ~DeviceOps() = default;
  // Allocates the activations and scratch the ops read and write.
  virtual Backend& memory() = 0;

  // y [rows, n] = x [rows, k] weight^T for weight [n, k] in any weight dtype; int8 weights need
  // their f32 row scales (a tensor of n), others pass an undefined tensor.
  virtual void matmul(const float* x, const Tensor& weight, const Tensor& row_scales, float* y, int64_t rows) = 0;
  // y [rows, n] += bias [n] on every row.
  virtual void add_bias(float* y, const Tensor& bias, int64_t rows) = 0;
  // y = norm(x) over rows of weight.numel(): RMSNorm, or LayerNorm with an optional bias.
  virtual void rmsnorm(const float* x, const Tensor& weight, float* y, int64_t rows, float eps) = 0;
  virtual void layernorm(const float* x, const Tensor& weight, const Tensor& bias, float* y, int64_t rows,
                         float eps) = 0;
  // Rotates x [tokens, heads, head_dim] in place as ref::rope, token t at positions[t]; positions and the
  // head_dim / 2 frequencies on the host (one table, computed by runtime/model/positions.h, for every backend).
  virtual void rope(float* x, const int32_t* positions, int64_t tokens, int64_t heads, int64_t head_dim,
                    const double* frequencies, float magnitude, RopeLayout layout) = 0;
  // Attention of q over the keys and values (a contiguous cache or a paged pool, per shape).
  virtual void attention(const float* q, const void* keys, const void* values, float* out,
                         const AttentionShape& shape) = 0;
  // out = silu(gate) * up; gelu / gelu_tanh in place; x += delta; x clamped to [-limit, limit].
  virtual void silu_gate(const float* gate, const float* up, float* out, int64_t n) = 0;
  virtual void gelu(float* x, int64_t n) = 0;
  virtual void gelu_tanh(float* x, int64_t n) = 0;
  virtual void add(float* x, const float* delta, int64_t n) = 0;
  virtual void clamp(float* x, int64_t n, float limit) = 0;
  // out [count, width] (=, or += when accumulate) rows ids[i] of table [*, width] widened to f32; ids
  // on the host, already checked against the table's rows.
  virtual void embed(const Tensor& table, const int32_t* ids, int64_t count, float* out, bool accumulate) = 0;
  // Copies each fused QKV row [q | k | v in the spec's layout] of qkv [rows, ...] into q, k and v.
  virtual void split_qkv(const ModelSpec& spec, const float* qkv, int64_t rows, float* q, float* k, float* v) = 0;
  // out [count, width] = rows[i] of x [*, width] (rows on the host).
  virtual void gather_rows(const float* x, const int64_t* rows, int64_t count, int64_t width, float* out) = 0;
  // x[i] = 0 for i < n, in order with the ops.
  virtual void zero(float* x, int64_t n) = 0;
  // The device's queue (a cudaStream_t on CUDA; null on the host): what a communicator moving the
  // device's buffers must order itself after.
  virtual void* queue() { return nullptr; }
  // Copies bytes within the device's memory, in order with the ops.
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;
  // Copies between the device and the host once every op queued before has finished: how results
  // (logits, hidden states for the next pipeline stage) leave the device and inputs arrive.
  virtual void to_host(void* host, const void* device, size_t bytes) = 0;
  virtual void from_host(void* device, const void* host, size_t bytes) = 0;
  // Writes tokens keys and values [tokens, kv_dim] at positions start_pos.. of a sequence whose
  // blocks are block_table, into the pool's layer (converted to the pool's dtype).
  virtual void write_kv(KvPool& pool, int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
                        std::span<const int32_t> block_table) = 0;
};

}  // namespace shardlm
