// cpu::matmul against ref::matmul for every weight dtype, at sizes on both sides of the SIMD widths
// (8, 16) and of the 4-row grouping, on every SIMD level and with 1 and 2 threads.
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "runtime/core/dtype.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

constexpr int64_t kSizes[] = {1, 7, 63, 64, 65, 769, 4097};
constexpr int64_t kRowCounts[] = {1, 3, 17};
// The reference is scalar double code, O(m n k): shapes above this many multiply-adds are skipped so
// that each test stays around a second. What is left still pairs 4097 with every m and 769 with 769,
// and its largest shapes (over 1 M multiply-adds) are split between two threads.
constexpr int64_t kMaxReferenceMacs = 4'000'000;

struct Weights {
  std::vector<uint8_t> data;      // w in the tested dtype
  std::vector<uint8_t> abs_data;  // |w| in the same dtype: rounding is symmetric, so this is |data|
};

Weights make_weights(const std::vector<float>& values, DType dtype) {
  Weights weights{std::vector<uint8_t>(values.size() * dtype_size(dtype)), {}};
  weights.abs_data.resize(weights.data.size());
  std::vector<float> magnitudes(values.size());
  for (size_t i = 0; i < values.size(); ++i) magnitudes[i] = std::abs(values[i]);
  convert_from_f32(values.data(), weights.data.data(), dtype, values.size());
  convert_from_f32(magnitudes.data(), weights.abs_data.data(), dtype, values.size());
  return weights;
}

class MatmulTest : public testing::TestWithParam<DType> {};

TEST_P(MatmulTest, MatchesReferenceWithinRoundingOfAnF32Sum) {
  const DType dtype = GetParam();
  std::mt19937 rng(42);
  for (int64_t m : kRowCounts) {
    for (int64_t k : kSizes) {
      for (int64_t n : kSizes) {
        if (m * n * k > kMaxReferenceMacs) continue;
        SCOPED_TRACE(testing::Message() << "m=" << m << " n=" << n << " k=" << k);
        const std::vector<float> x = test::random_floats(rng, m * k, -1, 1);
        const Weights w = make_weights(test::random_floats(rng, n * k, -1, 1), dtype);
        std::vector<float> expected(m * n), abs_sums(m * n);
        ref::matmul(x.data(), w.data.data(), dtype, expected.data(), m, n, k);
        std::vector<float> abs_x(x.size());
        for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::abs(x[i]);
        ref::matmul(abs_x.data(), w.abs_data.data(), dtype, abs_sums.data(), m, n, k);  // sum_i |x_i w_i|

        test::for_each_kernel_config([&](ThreadPool& pool) {
          std::vector<float> y(m * n, NAN);
          cpu::matmul(pool, x.data(), w.data.data(), dtype, y.data(), m, n, k);
          for (int64_t i = 0; i < m * n; ++i) {
            // Both sides read identical weights, so the only difference is the kernel's f32
            // accumulation of k products (the reference sums in double).
            ASSERT_NEAR(y[i], expected[i], test::sum_error_bound(k, abs_sums[i]))
                << "row " << i / n << " col " << i % n;
          }
        });
      }
    }
  }
}

// Small integers make every partial sum exact in f32 (|sum| <= 4097 * 64 < 2^24) and exactly
// representable in f16 and bf16, so any summation order must give the reference's result bit for
// bit: a dropped, doubled or misplaced element cannot hide inside a tolerance. The two larger shapes
// are big enough (over 1 M multiply-adds) for two threads to split them.
TEST_P(MatmulTest, IntegerInputsGiveExactResults) {
  const DType dtype = GetParam();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small_integer(-8, 8);
  struct Shape { int64_t m, n, k; };
  for (const Shape& shape : {Shape{1, 65, 4097}, Shape{3, 4097, 129}, Shape{17, 129, 769}, Shape{5, 7, 1}}) {
    SCOPED_TRACE(testing::Message() << "m=" << shape.m << " n=" << shape.n << " k=" << shape.k);
    std::vector<float> x(shape.m * shape.k), w_values(shape.n * shape.k);
    for (float& value : x) value = static_cast<float>(small_integer(rng));
    for (float& value : w_values) value = static_cast<float>(small_integer(rng));
    const Weights w = make_weights(w_values, dtype);
    std::vector<float> expected(shape.m * shape.n);
    ref::matmul(x.data(), w.data.data(), dtype, expected.data(), shape.m, shape.n, shape.k);
    test::for_each_kernel_config([&](ThreadPool& pool) {
      std::vector<float> y(shape.m * shape.n, NAN);
      cpu::matmul(pool, x.data(), w.data.data(), dtype, y.data(), shape.m, shape.n, shape.k);
      for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], expected[i]) << "output " << i;
    });
  }
}

// An empty dot product is zero, and empty outputs are left alone.
TEST_P(MatmulTest, EmptyShapes) {
  const DType dtype = GetParam();
  ThreadPool pool(2);
  std::vector<float> y(6, NAN);
  cpu::matmul(pool, nullptr, nullptr, dtype, y.data(), 2, 3, 0);
  for (float value : y) EXPECT_EQ(value, 0.0f);
  std::vector<float> untouched(4, 1.0f);
  const std::vector<float> x(4, 1.0f);
  cpu::matmul(pool, x.data(), nullptr, dtype, untouched.data(), 2, 0, 2);
  cpu::matmul(pool, x.data(), nullptr, dtype, untouched.data(), 0, 2, 2);
  for (float value : untouched) EXPECT_EQ(value, 1.0f);
}

INSTANTIATE_TEST_SUITE_P(AllWeightDtypes, MatmulTest, testing::Values(DType::f32, DType::f16, DType::bf16),
                         [](const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace shardlm
