// Matmul micro-benchmarks. Decode (m = 1) reads every weight once per token and is bound by memory
// bandwidth, so it reports bytes of weights per second; prefill (m = 64) reuses each weight row for 4
// input rows at a time and reports GFLOP/s. The shapes are SmolLM2-135M's projections (hidden 576,
// MLP 1536), which fit in L3, plus a 4096 x 4096 one (32-64 MiB) that must come from DRAM.
// SHARDLM_SIMD=generic|avx2 runs a lower instruction set than the CPU's best.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace shardlm {
namespace {

struct MatmulInputs {
  std::vector<float> x, y;
  std::vector<uint8_t> w;
};

MatmulInputs make_inputs(DType dtype, int64_t m, int64_t n, int64_t k) {
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  MatmulInputs in{std::vector<float>(m * k), std::vector<float>(m * n),
                  std::vector<uint8_t>(n * dtype_bytes(dtype, k))};
  for (float& value : in.x) value = uniform(rng);
  std::vector<float> w(n * k);
  for (float& value : w) value = uniform(rng);
  convert_from_f32(w.data(), in.w.data(), dtype, w.size());
  return in;
}

void report(benchmark::State& state, DType dtype, int64_t m, int64_t n, int64_t k) {
  state.SetBytesProcessed(state.iterations() * n * static_cast<int64_t>(dtype_bytes(dtype, k)));
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dtype_name(dtype)) + " simd=" + std::string(cpu::simd_level()));
}

// Arguments: dtype (0 f32, 1 f16, 2 bf16, 4 q8_0, 5 q4_1), m, k, n, threads.
void BM_MatmulCpu(benchmark::State& state) {
  const auto dtype = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), k = state.range(2), n = state.range(3);
  ThreadPool pool(static_cast<int>(state.range(4)));
  MatmulInputs in = make_inputs(dtype, m, n, k);
  for (auto _ : state) {
    cpu::matmul(pool, in.x.data(), in.w.data(), dtype, in.y.data(), m, n, k);
    benchmark::DoNotOptimize(in.y.data());
    benchmark::ClobberMemory();
  }
  report(state, dtype, m, n, k);
}

// Arguments: dtype, m, k, n. The scalar oracle, to show what the CPU kernel gains over it.
void BM_MatmulRef(benchmark::State& state) {
  const auto dtype = static_cast<DType>(state.range(0));
  const int64_t m = state.range(1), k = state.range(2), n = state.range(3);
  MatmulInputs in = make_inputs(dtype, m, n, k);
  for (auto _ : state) {
    ref::matmul(in.x.data(), in.w.data(), dtype, in.y.data(), m, n, k);
    benchmark::DoNotOptimize(in.y.data());
    benchmark::ClobberMemory();
  }
  report(state, dtype, m, n, k);
}

void cpu_shapes(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"dtype", "m", "k", "n", "threads"});
  for (int64_t dtype : {0, 1, 2, 4, 5, 6}) {
    for (int64_t threads : {1, 2}) {
      for (int64_t m : {1, 16, 32, 64, 128, 512}) {
        bench->Args({dtype, m, 576, 1536, threads});
        bench->Args({dtype, m, 1536, 576, threads});
      }
      bench->Args({dtype, 1, 4096, 4096, threads});
    }
  }
}

void ref_shapes(benchmark::internal::Benchmark* bench) {
  bench->ArgNames({"dtype", "m", "k", "n"});
  for (int64_t dtype : {0, 1, 2, 4, 5, 6}) bench->Args({dtype, 1, 576, 1536});
}

// Real time: with 2 threads the calling thread's CPU time would count only its own share.
BENCHMARK(BM_MatmulCpu)->Apply(cpu_shapes)->UseRealTime();
BENCHMARK(BM_MatmulRef)->Apply(ref_shapes)->UseRealTime();

}  // namespace
}  // namespace shardlm
