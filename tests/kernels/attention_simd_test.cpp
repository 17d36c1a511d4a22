// The softmax pieces of attention on every SIMD level, against libm in double: exp_shifted (the
// polynomial exp of the AVX levels) and max, at every length 0..40 (full registers and every tail);
// and widen_bf16 (a bf16 value cache's tiles) bit for bit, at every length 0..70.
#include <bit>
#include <cfloat>
#include <cstdint>
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

// Widening is exact: each result's bits are the bf16's bits followed by 16 zero bits, for every
// pattern (normal, subnormal, zero, infinity, NaN), and nothing past n is written.
TEST(AttentionSimd, WidenBf16IsExact) {
  std::mt19937 rng(23);
  std::uniform_int_distribution<uint32_t> bits(0, 0xffff);
  constexpr float kSentinel = 12345.0f;
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    const cpu::simd::Kernels& kernels = cpu::simd::active_kernels();
    for (int64_t n = 0; n <= 70; ++n) {
      SCOPED_TRACE(testing::Message() << "simd=" << level << " n=" << n);
      std::vector<uint16_t> x(n);
      for (uint16_t& value : x) value = static_cast<uint16_t>(bits(rng));
      if (n > 4) x[0] = 0x0001, x[1] = 0x8000, x[2] = 0x7f80, x[3] = 0xffc1;  // subnormal, -0, inf, NaN
      std::vector<float> y(n + 8, kSentinel);
      kernels.widen_bf16(x.data(), n, y.data());
      for (int64_t i = 0; i < n; ++i) {
        ASSERT_EQ(std::bit_cast<uint32_t>(y[i]), static_cast<uint32_t>(x[i]) << 16) << "element " << i;
      }
      for (int64_t i = n; i < n + 8; ++i) ASSERT_EQ(y[i], kSentinel) << "widen_bf16 wrote past n at " << i;
    }
  }
}

}  // namespace
}  // namespace shardlm
