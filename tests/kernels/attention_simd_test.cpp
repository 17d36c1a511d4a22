// The softmax pieces of attention on every SIMD level, against libm in double: exp_shifted (the
// polynomial exp of the AVX levels) and max, at every length 0..40 (full registers and every tail).
#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu/simd.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

using test::kUnitRoundoff;

TEST(AttentionSimd, ExpShiftedAndMaxMatchLibm) {
  std::mt19937 rng(21);
  constexpr float kSentinel = 12345.0f;
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    const cpu::simd::Kernels& kernels = cpu::simd::active_kernels();
    for (int64_t n = 0; n <= 40; ++n) {
      SCOPED_TRACE(testing::Message() << "simd=" << level << " n=" << n);
      // Shifted values from 0 down to -110: the whole range where expf is normal, then subnormal
      // and zero, as attention's scores minus their running max are.
      std::vector<float> x = test::random_floats(rng, n, -110.0f, 0.0f);
      if (n > 2) x[1] = 0.0f, x[2] = -INFINITY;  // the running max itself, and a masked-out score
      const float shift = n % 2 == 0 ? 0.0f : -3.5f;
      std::vector<float> y(n + 8, kSentinel);
      const float sum = kernels.exp_shifted(x.data(), n, shift, y.data());
      double expected_sum = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        const double expected = std::exp(static_cast<double>(x[i] - shift));
        expected_sum += expected;
        // 2 ulp is 4u relative where the result is normal; below FLT_MIN a level may flush to zero.
        const double tolerance = expected >= FLT_MIN ? 4.0 * kUnitRoundoff * expected : FLT_MIN;
        ASSERT_NEAR(y[i], expected, tolerance) << "x=" << x[i];
      }
      for (int64_t i = n; i < n + 8; ++i) ASSERT_EQ(y[i], kSentinel) << "exp_shifted wrote past n at " << i;
      // Each term within 4u, plus the rounding of at most n - 1 additions, each within u of the sum.
      EXPECT_NEAR(sum, expected_sum, (4.0 + static_cast<double>(n)) * kUnitRoundoff * expected_sum + FLT_MIN);
      if (n > 0) {
        float expected_max = -INFINITY;
        for (float value : x) expected_max = std::max(expected_max, value);
        EXPECT_EQ(kernels.max(x.data(), n), expected_max);
      }
    }
  }
}

// In place (y == x), as attention calls it, the results are the same as into another buffer.
TEST(AttentionSimd, ExpShiftedInPlace) {
  std::mt19937 rng(22);
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    const cpu::simd::Kernels& kernels = cpu::simd::active_kernels();
    std::vector<float> x = test::random_floats(rng, 37, -20.0f, 5.0f), y(37);
    const float apart = kernels.exp_shifted(x.data(), 37, 5.0f, y.data());
    const float in_place = kernels.exp_shifted(x.data(), 37, 5.0f, x.data());
    EXPECT_EQ(apart, in_place) << level;
    EXPECT_EQ(x, y) << level;
  }
}

}  // namespace
}  // namespace shardlm
