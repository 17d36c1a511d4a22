// Shared by the CPU kernel tests: random inputs from a fixed seed, a loop over every SIMD level and
// thread count this machine can run, and the rounding-error bounds the tolerances are built from.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/thread_pool.h"

namespace shardlm::test {

// Unit roundoff of f32: one correctly rounded operation has relative error at most this.
inline constexpr double kUnitRoundoff = 0x1p-24;

// The lambda of the probabilistic rounding-error bound below. Higham and Mary (2019) show that an
// n-term f32 sum with independent rounding errors is off by more than lambda * sqrt(n) * u * sum|terms|
// with probability at most about 2n * exp(-lambda^2 / 2): about 1e-4 for lambda = 6 and the largest n
// tested here (4097). The worst-case bound, n * u * sum|terms|, equals a whole average term at that n
// and would hide a dropped tail element. The inputs come from fixed seeds, so the tests are
// deterministic either way.
inline constexpr double kLambda = 6.0;

// Error bound for an f32 dot product or sum of n terms with sum of magnitudes abs_sum, in any
// summation order, plus one rounding of the result to f32.
inline double sum_error_bound(int64_t n, double abs_sum) {
  return (kLambda * std::sqrt(static_cast<double>(n)) + 1.0) * kUnitRoundoff * abs_sum;
}

inline std::vector<float> random_floats(std::mt19937& rng, int64_t n, float low, float high) {
  std::uniform_real_distribution<float> distribution(low, high);
  std::vector<float> values(n);
  for (float& value : values) value = distribution(rng);
  return values;
}

// Forces a SIMD level for a scope and restores the one that was active before.
class ScopedSimdLevel {
 public:
  explicit ScopedSimdLevel(std::string_view level) : previous_(cpu::simd_level()) {
    cpu::simd::set_simd_level_for_testing(level);
  }
  ~ScopedSimdLevel() { cpu::simd::set_simd_level_for_testing(previous_); }
  ScopedSimdLevel(const ScopedSimdLevel&) = delete;
  ScopedSimdLevel& operator=(const ScopedSimdLevel&) = delete;

 private:
  std::string previous_;
};

// Calls body(pool) for each SIMD level this CPU supports with pools of 1 and 2 threads (one thread
// runs everything inline; two split the work), with a trace naming the configuration on failure.
template <class Body>
void for_each_kernel_config(Body&& body) {
  for (std::string_view level : cpu::simd::supported_levels()) {
    ScopedSimdLevel forced(level);
    for (int threads : {1, 2}) {
      SCOPED_TRACE(::testing::Message() << "simd=" << level << " threads=" << threads);
      ThreadPool pool(threads);
      body(pool);
    }
  }
}

}  // namespace shardlm::test
