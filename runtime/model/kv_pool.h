// The paged K/V storage of one rank: per layer, K and V pools of
// [num_blocks][kv_heads_local][block_size][head_dim] in the KV dtype (f32, bf16 at half the bytes, or
// int8 as q8_0: each block of 32 values of a token's head with its own f16 scale, 34 bytes per 32).
// Which block holds which positions of a sequence is the block manager's business
// (runtime/engine/block_manager.h): the same block tables on every rank, each rank storing only its own
// KV heads.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/core/dtype.h"
#include "runtime/core/tensor.h"
#include "runtime/model/model_spec.h"

namespace shardlm {

class KvPool {
 public:
  // spec: this rank's share (its layers and KV heads). dtype: f32, bf16 or q8_0 (throws otherwise).
  // memory: where the pools live (the device that runs the attention).
  KvPool(const ModelSpec& spec, int64_t num_blocks, int64_t block_size, DType dtype = DType::f32,
         Backend& memory = cpu_backend());

  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  DType dtype() const { return dtype_; }
  // The layer's pools, in dtype(): what attention reads (AttentionShape::kv_dtype says how).
  const void* keys(int64_t layer) const { return keys_[layer].data(); }
  const void* values(int64_t layer) const { return values_[layer].data(); }
  // Stores `tokens` rows of k and v ([tokens][kv_heads * head_dim] each, f32) at positions start_pos..,
  // in the blocks `block_table` names, rounded to the pool's dtype (bf16: to nearest even; q8_0:
  // quantized per block of 32).
  void write(int64_t layer, const float* k, const float* v, int64_t tokens, int64_t start_pos,
             std::span<const int32_t> block_table);
  // Throws unless positions start_pos .. start_pos + tokens - 1 lie within block_table's blocks and
  // every block they fall in is one of this pool's: what write() and a device's own KV write
  // (DeviceOps::write_kv) check before storing anything.
  void check_write(int64_t tokens, int64_t start_pos, std::span<const int32_t> block_table) const;
  // Bytes of K and V over all layers, as allocated.
  size_t bytes() const;
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  // The layer's pools to write into, for a device's own KV write (DeviceOps::write_kv).
  void* keys_for_writing(int64_t layer) { return keys_[layer].data(); }
  void* values_for_writing(int64_t layer) { return values_[layer].data(); }

 private:
  int64_t num_blocks_, block_size_, kv_heads_, head_dim_;
  DType dtype_;
  std::vector<Tensor> keys_, values_;
};

}  // namespace shardlm
