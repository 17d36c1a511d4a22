// The SIMD dispatcher and the primitives of each level, on every length around the register widths
// (8 and 16 floats) and every tile shape, so that every tail path runs.
#include <algorithm>
#include <cmath>
#include <string>

#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"
#include "runtime/core/dtype.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

using test::kUnitRoundoff;

TEST(SimdDispatch, GenericIsAlwaysSupportedAndListedFirst) {
  const auto levels = cpu::simd::supported_levels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), "generic");
}

TEST(SimdDispatch, ChoosesTheBestLevelUnlessOneIsRequested) {
  const auto levels = cpu::simd::supported_levels();
  EXPECT_EQ(cpu::simd::choose_level(nullptr), levels.back());
  EXPECT_EQ(cpu::simd::choose_level(""), levels.back());
  for (std::string_view level : levels) EXPECT_EQ(cpu::simd::choose_level(std::string(level).c_str()), level);
}

TEST(SimdDispatch, RejectsUnknownAndUnsupportedLevels) {
  EXPECT_THROW(cpu::simd::choose_level("sse9"), Error);
  EXPECT_THROW(cpu::simd::set_simd_level_for_testing("sse9"), Error);
  const auto levels = cpu::simd::supported_levels();
  for (const char* level : {"avx2", "avx512"}) {
    if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
      EXPECT_THROW(cpu::simd::choose_level(level), Error);
    }
  }
}

TEST(SimdDispatch, TestHookSwitchesTheActiveLevel) {
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    EXPECT_EQ(cpu::simd_level(), level);
    EXPECT_STREQ(cpu::simd::active_kernels().name, std::string(level).c_str());
  }
}

// dot_tile for every dtype, tile shape and length 0..80, against double-precision sums of the same
// (already rounded) weights.
TEST(SimdPrimitives, DotTileMatchesDoubleSumsAtEveryLength) {
  constexpr int64_t kMaxLength = 80;
  // Rows of x and w and of the output are not packed, to catch a stride mistaken for another.
  constexpr int64_t kXStride = kMaxLength + 3, kWStride = kMaxLength + 5, kOutStride = 7;
  constexpr int kRows = cpu::simd::kMaxTileRows, kCols = cpu::simd::kMaxTileCols;
  std::mt19937 rng(1);
  const std::vector<float> x = test::random_floats(rng, kXStride * kRows, -1, 1);
  const std::vector<float> w_f32 = test::random_floats(rng, kWStride * kCols, -1, 1);
  for (DType dtype : {DType::f32, DType::f16, DType::bf16}) {
    std::vector<uint8_t> w(w_f32.size() * dtype_size(dtype));
    convert_from_f32(w_f32.data(), w.data(), dtype, w_f32.size());
    for (std::string_view level : cpu::simd::supported_levels()) {
      test::ScopedSimdLevel forced(level);
      const cpu::simd::DotTileFn dot_tile = cpu::simd::active_kernels().dot_tile[static_cast<int>(dtype)];
      for (int rows = 1; rows <= kRows; ++rows) {
        for (int cols = 1; cols <= kCols; ++cols) {
          for (int64_t k = 0; k <= kMaxLength; ++k) {
            SCOPED_TRACE(testing::Message() << "simd=" << level << " dtype=" << dtype_name(dtype) << " rows=" << rows
                                            << " cols=" << cols << " k=" << k);
            std::vector<float> out(kOutStride * kRows, NAN);
            dot_tile(x.data(), kXStride, rows, w.data(), kWStride, cols, k, out.data(), kOutStride);
            for (int r = 0; r < kRows; ++r) {
              for (int c = 0; c < kOutStride; ++c) {
                const float value = out[r * kOutStride + c];
                if (r >= rows || c >= cols) {
                  ASSERT_TRUE(std::isnan(value)) << "wrote outside the tile at row " << r << " col " << c;
                  continue;
                }
                double expected = 0.0, abs_sum = 0.0;
                for (int64_t i = 0; i < k; ++i) {
                  const double weight = load_as_f32(w.data(), dtype, c * kWStride + i);
                  const double term = static_cast<double>(x[r * kXStride + i]) * weight;
                  expected += term;
                  abs_sum += std::abs(term);
                }
                // An f32 sum of k products, the tolerance every matmul test uses (see kernel_test_support.h).
                EXPECT_NEAR(value, expected, test::sum_error_bound(k, abs_sum)) << "row " << r << " col " << c;
              }
            }
          }
        }
      }
    }
  }
}

// Every one of the 65536 f16 and bf16 bit patterns, read through a 1 x 1 dot product with x = 1, must
// give the value runtime/core/dtype.h converts it to: each level has its own conversion (F16C, a
// shift, or bit arithmetic), and random weights would miss subnormals, infinities and NaNs.
TEST(SimdPrimitives, EveryHalfPrecisionBitPatternConverts) {
  const float one = 1.0f;
  for (DType dtype : {DType::f16, DType::bf16}) {
    for (std::string_view level : cpu::simd::supported_levels()) {
      test::ScopedSimdLevel forced(level);
      const cpu::simd::DotTileFn dot_tile = cpu::simd::active_kernels().dot_tile[static_cast<int>(dtype)];
      for (uint32_t bits = 0; bits <= 0xffffu; ++bits) {
        const uint16_t pattern = static_cast<uint16_t>(bits);
        const float expected = dtype == DType::f16 ? f16_to_f32(pattern) : bf16_to_f32(pattern);
        float out = 0.0f;
        dot_tile(&one, 1, 1, &pattern, 1, 1, 1, &out, 1);
        if (std::isnan(expected)) {
          ASSERT_TRUE(std::isnan(out)) << "simd=" << level << " dtype=" << dtype_name(dtype) << " bits=" << bits;
        } else {
          // 0 + 1 * w is w exactly (a zero's sign aside, which == ignores).
          ASSERT_EQ(out, expected) << "simd=" << level << " dtype=" << dtype_name(dtype) << " bits=" << bits;
        }
      }
    }
  }
}

// weighted_sum for 1 to 4 query rows and scale at every length 0..160 (past AVX-512's 8-register
// blocks), with sentinels after each row's end to catch a tail written too far.
TEST(SimdPrimitives, WeightedSumAndScaleAtEveryLength) {
  constexpr int64_t kMaxLength = 160;
  constexpr int64_t kStride = kMaxLength + 3;
  constexpr int64_t kMaxCount = 9;
  constexpr int64_t kWeightStride = kMaxCount + 2;
  constexpr int64_t kRowStride = kMaxLength + 16;  // between query rows of y, sentinels in between
  constexpr float kSentinel = 12345.0f;
  std::mt19937 rng(2);
  const std::vector<float> a = test::random_floats(rng, 4 * kWeightStride, -1, 1);
  const std::vector<float> x = test::random_floats(rng, kMaxCount * kStride, -1, 1);
  const std::vector<float> y0 = test::random_floats(rng, 4 * kMaxLength, -1, 1);
  for (std::string_view level : cpu::simd::supported_levels()) {
    test::ScopedSimdLevel forced(level);
    const cpu::simd::Kernels& kernels = cpu::simd::active_kernels();
    for (int rows = 1; rows <= cpu::simd::kMaxTileRows; ++rows) {
      for (int64_t count : {0, 1, 2, 3, 8, 9}) {
        for (int64_t n = 0; n <= kMaxLength; ++n) {
          SCOPED_TRACE(testing::Message() << "simd=" << level << " rows=" << rows << " count=" << count << " n=" << n);
          std::vector<float> y(rows * kRowStride, kSentinel);
          for (int r = 0; r < rows; ++r) std::copy_n(y0.begin() + r * kMaxLength, n, y.begin() + r * kRowStride);
          kernels.weighted_sum(a.data(), kWeightStride, rows, count, x.data(), kStride, y.data(), kRowStride, n);
          for (int r = 0; r < rows; ++r) {
            for (int64_t i = 0; i < n; ++i) {
              double expected = y0[r * kMaxLength + i], abs_sum = std::abs(expected);
              for (int64_t j = 0; j < count; ++j) {
                const double term = static_cast<double>(a[r * kWeightStride + j]) * x[j * kStride + i];
                expected += term;
                abs_sum += std::abs(term);
              }
              // An f32 sum of count + 1 terms (see kernel_test_support.h).
              EXPECT_NEAR(y[r * kRowStride + i], expected, test::sum_error_bound(count + 1, abs_sum))
                  << "row " << r << " element " << i;
            }
            for (int64_t i = n; i < kRowStride; ++i)
              ASSERT_EQ(y[r * kRowStride + i], kSentinel) << "row " << r << " wrote past n at " << i;
          }
        }
      }
    }
    for (int64_t n = 0; n <= kMaxLength; ++n) {
      SCOPED_TRACE(testing::Message() << "simd=" << level << " n=" << n);
      std::vector<float> z(y0.begin(), y0.begin() + n);
      z.resize(kMaxLength + 16, kSentinel);
      kernels.scale(a[0], z.data(), n);
      // One f32 multiply per element: exactly what a scalar multiply gives.
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(z[i], a[0] * y0[i]);
      for (size_t i = n; i < z.size(); ++i) ASSERT_EQ(z[i], kSentinel) << "scale wrote past n at " << i;
    }
  }
}

}  // namespace
}  // namespace shardlm
