// cpu::rmsnorm against ref::rmsnorm on every SIMD level and with 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

constexpr float kEps = 1e-5f;

// The kernel sums the squares in f32 (all terms positive, so the bound is relative to the sum itself);
// the square root halves that relative error. Then divide, add eps, sqrt, reciprocal, two multiplies
// and the reference's own rounding to f32 add one rounding each, at most 4u together with margin.
double relative_tolerance(int64_t dim) {
  const double sum_of_squares_error = test::sum_error_bound(dim, 1.0);
  return 0.5 * sum_of_squares_error + 4.0 * test::kUnitRoundoff;
}

void expect_matches_reference(int64_t rows, int64_t dim, bool in_place, std::mt19937& rng) {
  SCOPED_TRACE(testing::Message() << "rows=" << rows << " dim=" << dim << (in_place ? " in place" : ""));
  const std::vector<float> x = test::random_floats(rng, rows * dim, -2, 2);
  const std::vector<float> weight = test::random_floats(rng, dim, 0.5f, 1.5f);
  std::vector<float> expected(rows * dim);
  ref::rmsnorm(x.data(), weight.data(), expected.data(), rows, dim, kEps);
  test::for_each_kernel_config([&](ThreadPool& pool) {
    std::vector<float> y(rows * dim, NAN);
    if (in_place) {
      y = x;
      cpu::rmsnorm(pool, y.data(), weight.data(), y.data(), rows, dim, kEps);
    } else {
      cpu::rmsnorm(pool, x.data(), weight.data(), y.data(), rows, dim, kEps);
    }
    for (int64_t i = 0; i < rows * dim; ++i) {
      ASSERT_NEAR(y[i], expected[i], std::abs(expected[i]) * relative_tolerance(dim)) << "row " << i / dim;
    }
  });
}

TEST(CpuRmsnorm, MatchesReference) {
  std::mt19937 rng(3);
  for (int64_t rows : {1, 5}) {
    for (int64_t dim : {1, 7, 63, 64, 65, 769, 4097}) expect_matches_reference(rows, dim, false, rng);
  }
  // Enough elements (over 256 K) that two threads share the rows.
  expect_matches_reference(100, 4097, false, rng);
  expect_matches_reference(600, 576, false, rng);
}

TEST(CpuRmsnorm, InPlace) {
  std::mt19937 rng(4);
  expect_matches_reference(3, 65, true, rng);
  expect_matches_reference(400, 769, true, rng);  // split between two threads
}

}  // namespace
}  // namespace shardlm
