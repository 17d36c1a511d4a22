// cpu::softmax against ref::softmax. Softmax takes no thread pool, but its SIMD level is still
// forced in turn in case it ever uses the dispatcher.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

void expect_matches_reference(const std::vector<float>& x) {
  SCOPED_TRACE(testing::Message() << "n=" << x.size());
  std::vector<float> expected = x;
  ref::softmax(expected.data(), static_cast<int64_t>(expected.size()));
  const float max_value = *std::max_element(x.begin(), x.end());
  const float min_value = *std::min_element(x.begin(), x.end());
  // Each exp(x - max) is off by (|x - max| / 2 + 2) u relative at most: rounding x - max to f32 (an
  // absolute error that exp turns into a relative one), and expf (under 1 ulp = 2u). The double sum
  // adds nothing noticeable but carries the worst element's error, (range / 2 + 2) u, into every
  // output; 1/sum, the multiply and the reference's own rounding add u/2 each. In all at most
  // (range + 5.5) u relative, range being max - min of the input.
  const double relative = (static_cast<double>(max_value) - min_value + 5.5) * test::kUnitRoundoff;
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    std::vector<float> y = x;
    cpu::softmax(y.data(), static_cast<int64_t>(y.size()));
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_NEAR(y[i], expected[i], relative * expected[i]) << "simd=" << level << " element " << i;
    }
  }
}

TEST(CpuSoftmax, MatchesReference) {
  std::mt19937 rng(6);
  for (int64_t n : {1, 7, 63, 64, 65, 769, 4097}) expect_matches_reference(test::random_floats(rng, n, -10, 10));
}

// exp(1000) overflows f32 and exp(-1000) underflows to 0: only subtracting the maximum first keeps
// the result finite and the sum non-zero.
TEST(CpuSoftmax, LargeLogitsNeitherOverflowNorUnderflow) {
  std::mt19937 rng(7);
  expect_matches_reference(test::random_floats(rng, 769, 990, 1010));
  expect_matches_reference(test::random_floats(rng, 65, -1010, -990));
}

TEST(CpuSoftmax, EqualValuesGiveAUniformDistribution) {
  std::vector<float> x(65, 3.0f);
  cpu::softmax(x.data(), 65);
  for (float value : x) EXPECT_FLOAT_EQ(value, 1.0f / 65);
}

}  // namespace
}  // namespace shardlm
