#include "runtime/plan/hardware_probe.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "kernels/cpu/ops.h"
#include "runtime/backend/backend.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::plan {
namespace {

// The fastest of `runs` calls of `body`, after one warm-up call: other work on the machine only
// ever slows a call down.
template <typename Body>
double fastest_seconds(int runs, Body&& body) {
  body();
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto start = std::chrono::steady_clock::now();
    body();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return *std::min_element(times.begin(), times.end());
}

}  // namespace

double probe_matmul_flops(int threads, DType dtype) {
  constexpr int64_t kM = 256, kN = 1024, kK = 1024;
  ThreadPool pool(threads);
  std::vector<float> x(kM * kK, 0.5f), y(kM * kN), source(kN * kK, 0.001f);
  std::vector<uint8_t> weights(kN * kK * dtype_size(dtype));
  convert_from_f32(source.data(), weights.data(), dtype, source.size());
  const double seconds =
      fastest_seconds(7, [&] { cpu::matmul(pool, x.data(), weights.data(), dtype, y.data(), kM, kN, kK); });
  return 2.0 * kM * kN * kK / seconds;
}

}  // namespace shardlm::plan
