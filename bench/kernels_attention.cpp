// Attention micro-benchmarks at SmolLM2-135M's shape (9 query heads, 3 KV heads, head_dim 64) over a
// paged cache of 5,420 keys in blocks of 16 (the engine's), f32 against bf16 K/V: 1 query token (a
// decode step) and 9 (a verify pass or a small prefill chunk), 2 threads. A decode step streams the
// layer's whole K/V cache once, so bytes of K/V per second is the figure; bf16 halves the bytes.
// SHARDLM_SIMD=generic|avx2 runs a lower instruction set than the CPU's best.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace shardlm {
namespace {

constexpr int64_t kHeads = 9, kKvHeads = 3, kHeadDim = 64, kKeys = 5420, kBlockSize = 16;

// Arguments: K/V dtype (0 f32, 2 bf16), query tokens, threads.
void BM_AttentionPaged(benchmark::State& state) {
  const auto dtype = static_cast<DType>(state.range(0));
  const int64_t tokens = state.range(1);
  ThreadPool pool(static_cast<int>(state.range(2)));
  const int64_t blocks = (kKeys + kBlockSize - 1) / kBlockSize;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> q(tokens * kHeads * kHeadDim), out(q.size());
  for (float& value : q) value = uniform(rng);
  std::vector<float> kv(blocks * kKvHeads * kBlockSize * kHeadDim);
  for (float& value : kv) value = uniform(rng);
  std::vector<uint8_t> k(kv.size() * dtype_size(dtype)), v(k.size());
  convert_from_f32(kv.data(), k.data(), dtype, kv.size());
  convert_from_f32(kv.data(), v.data(), dtype, kv.size());
  // Blocks in a shuffled order, as a pool shared by many sequences hands them out.
  std::vector<int32_t> table(blocks);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), rng);

  AttentionShape shape{tokens, kKeys - tokens, kHeads, kKvHeads, kHeadDim, 0, 1.0f / std::sqrt(float(kHeadDim))};
  shape.block_table = table.data();
  shape.block_size = kBlockSize;
  shape.kv_dtype = dtype;
  for (auto _ : state) {
    cpu::attention(pool, q.data(), k.data(), v.data(), out.data(), shape);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const int64_t kv_bytes = 2 * kKeys * kKvHeads * kHeadDim * static_cast<int64_t>(dtype_size(dtype));
  state.SetBytesProcessed(state.iterations() * kv_bytes);
  state.SetLabel(std::string(dtype_name(dtype)) + " simd=" + std::string(cpu::simd_level()));
}

BENCHMARK(BM_AttentionPaged)
    ->ArgNames({"dtype", "tokens", "threads"})
    ->ArgsProduct({{0, 2}, {1, 9}, {2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace shardlm
