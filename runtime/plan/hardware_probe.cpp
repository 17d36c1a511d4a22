#include "runtime/plan/hardware_probe.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/backend/backend.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::plan {
namespace {

// Median seconds of `runs` calls of `body`, after one warm-up call.
template <typename Body>
double median_seconds(int runs, Body&& body) {
  body();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::nth_element(times.begin(), times.begin() + runs / 2, times.end());
  return times[runs / 2];
}

}  // namespace

double probe_weight_bandwidth(int threads) {
  // 256 MiB of f32 weights: far beyond any cache, so every run reads them from memory as decoding does.
  constexpr int64_t kRows = 8192, kCols = 8192;
  ThreadPool pool(threads);
  std::vector<float> weights(kRows * kCols, 0.001f), x(kCols, 1.0f), y(kRows);
  const double seconds =
      median_seconds(9, [&] { cpu::matmul(pool, x.data(), weights.data(), DType::f32, y.data(), 1, kRows, kCols); });
  return kRows * kCols * sizeof(float) / seconds;
}

double probe_matmul_flops(int threads, DType dtype) {
  constexpr int64_t kM = 256, kN = 1024, kK = 1024;
  ThreadPool pool(threads);
  std::vector<float> x(kM * kK, 0.5f), y(kM * kN), source(kN * kK, 0.001f);
  std::vector<uint8_t> weights(kN * kK * dtype_size(dtype));
  convert_from_f32(source.data(), weights.data(), dtype, source.size());
  const double seconds =
      median_seconds(7, [&] { cpu::matmul(pool, x.data(), weights.data(), dtype, y.data(), kM, kN, kK); });
  return 2.0 * kM * kN * kK / seconds;
}

}  // namespace shardlm::plan
