// Prefill's quantized product (kernels/cpu/quantized_gemm.cpp) at Llama-2-7B's shapes, set against
// this CPU's integer peak: vpdpbusd, 64 byte products an instruction, timed on independent chains
// (12 accumulators a thread, no loads) as the issue measures it. Each figure is int8 operations per
// second (2 per multiply-add, as GFLOP/s counts them) and its share of the peak at that thread count.
//   usage: shardlm_quantized_gemm [rows ...]   (default: 64 512)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/core/dtype.h"
#include "runtime/core/thread_pool.h"

namespace {

using namespace shardlm;
using Clock = std::chrono::steady_clock;

// vpdpbusd's throughput on one core: 12 independent accumulators in registers, so that neither the
// instruction's latency nor a load ever stalls them.
__attribute__((target("avx512f,avx512vnni"))) double vpdpbusd_ops_per_second_one_thread() {
  constexpr int64_t kIterations = 20'000'000;
  __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2), a3 = _mm512_set1_epi32(3),
          a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5), a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7),
          a8 = _mm512_set1_epi32(8), a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10),
          a11 = _mm512_set1_epi32(11);
  __m512i u = _mm512_set1_epi8(3), s = _mm512_set1_epi8(-2);
  __asm__ volatile("" : "+v"(u), "+v"(s));  // not constants the compiler could fold
  const auto start = Clock::now();
  for (int64_t it = 0; it < kIterations; ++it) {
    a0 = _mm512_dpbusd_epi32(a0, u, s), a1 = _mm512_dpbusd_epi32(a1, u, s), a2 = _mm512_dpbusd_epi32(a2, u, s);
    a3 = _mm512_dpbusd_epi32(a3, u, s), a4 = _mm512_dpbusd_epi32(a4, u, s), a5 = _mm512_dpbusd_epi32(a5, u, s);
    a6 = _mm512_dpbusd_epi32(a6, u, s), a7 = _mm512_dpbusd_epi32(a7, u, s), a8 = _mm512_dpbusd_epi32(a8, u, s);
    a9 = _mm512_dpbusd_epi32(a9, u, s), a10 = _mm512_dpbusd_epi32(a10, u, s), a11 = _mm512_dpbusd_epi32(a11, u, s);
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const __m512i all = _mm512_add_epi32(
      _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                       _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7))),
      _mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)));
  alignas(64) int32_t lanes[16];
  _mm512_store_si512(lanes, all);
  if (lanes[0] == 42) std::puts("");
  return kIterations * 12.0 * 64 * 2 / seconds;
}

// The peak at `threads` threads: each runs the chains at once; the slowest sets the figure, and the
// best of three tries is kept (a VM's other guests only ever slow a try down).
double vpdpbusd_peak(int threads) {
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::vector<double> rates(threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) workers.emplace_back([&, t] { rates[t] = vpdpbusd_ops_per_second_one_thread(); });
    for (auto& w : workers) w.join();
    best = std::max(best, threads * *std::min_element(rates.begin(), rates.end()));
  }
  return best;
}

double best_seconds(int runs, const std::function<void()>& body) {
  body();
  double best = 1e30;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    body();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> row_counts;
  for (int i = 1; i < argc; ++i) row_counts.push_back(std::atoll(argv[i]));
  if (row_counts.empty()) row_counts = {64, 512};
  if (!__builtin_cpu_supports("avx512vnni")) {
    std::puts("quantized GEMM benchmark: this CPU has no AVX-512 VNNI; nothing to measure");
    return 0;
  }
  std::printf("quantized GEMM (kernels/cpu/quantized_gemm.cpp), SIMD %s, %s inputs (SHARDLM_PREFILL_INPUTS=%s);\n"
              "16-bit inputs take two vpdpbusd a group of products, so their share of the peak counts half\n",
              std::string(cpu::simd_level()).c_str(), cpu::prefill_takes_8_bit_inputs() ? "8-bit" : "16-bit",
              cpu::prefill_takes_8_bit_inputs() ? "int8" : "int16, the default");
  const double peak[3] = {0, vpdpbusd_peak(1), vpdpbusd_peak(2)};
  std::printf("vpdpbusd peak (independent chains): %.0f GOP/s at 1 thread, %.0f at 2\n", peak[1] / 1e9, peak[2] / 1e9);
  struct Shape {
    const char* name;
    int64_t k, n;
  };
  const Shape shapes[] = {{"7B q/k/v/o 4096 -> 4096", 4096, 4096},
                          {"7B gate/up 4096 -> 11008", 4096, 11008},
                          {"7B down 11008 -> 4096", 11008, 4096}};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (DType dtype : {DType::q4_0, DType::q4_1, DType::q8_0}) {
    for (const Shape& shape : shapes) {
      std::vector<float> source(shape.n * shape.k);
      for (float& v : source) v = uniform(rng);
      std::vector<uint8_t> w(dtype_bytes(dtype, shape.n * shape.k));
      convert_from_f32(source.data(), w.data(), dtype, source.size());
      for (int64_t m : row_counts) {
        std::vector<float> x(m * shape.k), y(m * shape.n);
        for (float& v : x) v = uniform(rng);
        std::printf("%-5s %-26s %4lld rows:", std::string(dtype_name(dtype)).c_str(), shape.name,
                    static_cast<long long>(m));
        for (int threads : {1, 2}) {
          ThreadPool pool(threads);
          const double seconds = best_seconds(3, [&] {
            cpu::matmul(pool, x.data(), w.data(), dtype, y.data(), m, shape.n, shape.k);
          });
          const double ops = 2.0 * m * shape.n * shape.k / seconds;
          std::printf("  %d thread%s %6.0f GOP/s (%.2f of peak)", threads, threads > 1 ? "s" : " ", ops / 1e9,
                      ops / peak[threads]);
        }
        std::printf("\n");
      }
    }
  }
  return 0;
}
