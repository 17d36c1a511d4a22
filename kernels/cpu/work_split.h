// How much work a thread must get before splitting pays. Handing a chunk to a pool thread costs
// about 2 us (measured on the 2-vCPU VM: the pool's workers spin between the ops of a forward pass,
// so no sleeping thread has to be woken); a chunk should take a few times that.
#pragma once

#include <cstdint>

namespace shardlm::cpu {

// Multiply-adds: 64 K take ~4 us at decode speeds (memory-bound, ~15 G multiply-adds/s).
constexpr int64_t kMinMacsPerThread = 64 * 1024;
// Attention, per (query row, key) score: 2 x head_dim multiply-adds plus the softmax's max, exp and
// rescale, which cost about as much as 48 multiply-adds (~3 ns a score at head_dim 8, measured on
// the 2-vCPU VM) and dominate at small head dims.
constexpr int64_t kScoreCostInMacs = 48;
// Cheap element-wise work (norms, RoPE, bias): ~0.3 ns per element, so 16 K take ~5 us.
constexpr int64_t kMinCheapElementsPerThread = 16 * 1024;
// Transcendental element-wise work (SiLU, GELU): ~4 ns per element, so 2 K take ~8 us.
constexpr int64_t kMinCostlyElementsPerThread = 2 * 1024;

}  // namespace shardlm::cpu
