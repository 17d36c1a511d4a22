// cpu::rope against ref::rope for both pair layouts, with and without position scaling, with a table
// that is not a geometric series (Llama 3, YaRN) and a magnitude other than 1 (YaRN's attention
// factor), on every SIMD level and with 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

struct RopeCase {
  int64_t tokens, heads, head_dim;
  float theta, position_scale;
  float magnitude = 1.0f;
  bool irregular = false;  // each pair's frequency drawn at random instead of theta's series
};

// The element rotated together with element i of a head.
int64_t partner(int64_t i, int64_t head_dim, RopeLayout layout) {
  if (layout == RopeLayout::adjacent) return i ^ 1;
  return i < head_dim / 2 ? i + head_dim / 2 : i - head_dim / 2;
}

void expect_matches_reference(const RopeCase& c, RopeLayout layout, std::mt19937& rng) {
  SCOPED_TRACE(testing::Message() << "tokens=" << c.tokens << " heads=" << c.heads << " head_dim=" << c.head_dim
                                  << " theta=" << c.theta << " position_scale=" << c.position_scale
                                  << " magnitude=" << c.magnitude << " irregular=" << c.irregular
                                  << " layout=" << (layout == RopeLayout::adjacent ? "adjacent" : "halves"));
  const int64_t size = c.tokens * c.heads * c.head_dim;
  const std::vector<float> x = test::random_floats(rng, size, -2, 2);
  // Positions up to 100000: long-context angles, where an f32 angle would be far off.
  std::uniform_int_distribution<int32_t> position(0, 100000);
  std::vector<int32_t> positions(c.tokens);
  for (int32_t& p : positions) p = position(rng);
  positions[0] = 0;  // the identity rotation

  std::vector<double> frequencies = ref::rope_frequencies(c.head_dim, c.theta, c.position_scale);
  if (c.irregular) {
    std::uniform_real_distribution<double> frequency(1e-6, 1.0);
    for (double& f : frequencies) f = frequency(rng);
  }

  std::vector<float> expected = x;
  ref::rope(expected.data(), positions.data(), c.tokens, c.heads, c.head_dim, frequencies.data(), c.magnitude, layout);
  test::for_each_kernel_config([&](ThreadPool& pool) {
    std::vector<float> y = x;
    cpu::rope(pool, y.data(), positions.data(), c.tokens, c.heads, c.head_dim, frequencies.data(), c.magnitude,
              layout);
    for (int64_t i = 0; i < size; ++i) {
      const int64_t head_start = i - i % c.head_dim;
      const int64_t j = head_start + partner(i % c.head_dim, c.head_dim, layout);
      // Both sides form the same angle in double and call the same cos/sin; the kernel then rounds
      // cos and sin to f32 (u/2 each), rounds two products and their sum (u/2 each), and the
      // reference rounds its result (u/2): at most 2u * magnitude * (|x_i| + |x_j|) plus terms of order u^2.
      const double tolerance = 2.5 * test::kUnitRoundoff * c.magnitude * (std::abs(x[i]) + std::abs(x[j]));
      ASSERT_NEAR(y[i], expected[i], tolerance)
          << "token " << i / (c.heads * c.head_dim) << " element " << i % c.head_dim;
    }
  });
}

TEST(CpuRope, MatchesReferenceForBothLayouts) {
  std::mt19937 rng(5);
  const RopeCase cases[] = {
      {1, 1, 2, 10000.0f, 1.0f},    {7, 3, 64, 10000.0f, 1.0f},  {65, 9, 64, 10000.0f, 1.0f},
      {1, 7, 66, 500000.0f, 1.0f},  {7, 1, 130, 10000.0f, 4.0f}, {63, 4, 128, 500000.0f, 8.0f},
      {64, 2, 62, 10000.0f, 0.5f},
      {129, 32, 128, 10000.0f, 2.0f},  // over 256 K elements: split between two threads
      {9, 3, 64, 10000.0f, 1.0f, 1.25f},  {33, 2, 128, 500000.0f, 1.0f, 1.0f, true},
      {17, 5, 32, 10000.0f, 1.0f, 1.1386f, true},
  };
  for (const RopeCase& c : cases) {
    for (RopeLayout layout : {RopeLayout::adjacent, RopeLayout::halves}) expect_matches_reference(c, layout, rng);
  }
}

}  // namespace
}  // namespace shardlm
