// cpu::matmul against ref::matmul for every weight dtype (int8 with its row scales, q8_0, q4_1 and
// q4_0 with their block scales), at sizes on both sides of the SIMD widths (8, 16) and of the 4-row grouping (k
// in whole blocks of 32 for the block formats), on every SIMD level and with 1 and 2 threads.
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/ref/ops.h"
#include "runtime/core/dtype.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

constexpr int64_t kSizes[] = {1, 7, 63, 64, 65, 769, 4097};
// Row lengths for the block formats: one block, two, an odd count, 7; 11 and 14 blocks (the AVX-512
// decode product's groups of 16 cut short: its third group of four ends after 3, its fourth after 2);
// long rows (16 blocks and 9; 129).
constexpr int64_t kBlockRowLengths[] = {32, 64, 96, 224, 352, 448, 800, 4128};
// 8 and 9: the last product that keeps 16-bit quantized inputs and the first that takes 8-bit ones
// where SHARDLM_PREFILL_INPUTS=int8 asks (cpu::kMaxWideInputRows); 17 and 41 take the panel products
// of quantized weights (from 16 rows), 41 the blocked GEMM of f32 / bf16 ones, where the level has them.
constexpr int64_t kRowCounts[] = {1, 3, 8, 9, 17, 41};
static_assert(cpu::kMaxWideInputRows == 8, "kRowCounts straddles the wide-input limit");
// The reference is scalar double code, O(m n k): shapes above this many multiply-adds are skipped so
// that each test stays around a second. What is left still pairs 4097 with every m and 769 with 769,
// and its largest shapes (over 1 M multiply-adds) are split between two threads.
constexpr int64_t kMaxReferenceMacs = 4'000'000;

struct Weights {
  std::vector<uint8_t> data;   // w in the tested dtype
  std::vector<float> scales;   // int8 only: one per row
  std::vector<float> abs_f32;  // |w| as the kernel sees it (dequantized, row scales applied), in f32
  const float* row_scales() const { return scales.empty() ? nullptr : scales.data(); }
};

// values [rows, k] in dtype; int8 by ref's per-row absmax quantization, q8_0 / q4_1 by their block
// quantizers (q4_0 too).
Weights make_weights(const std::vector<float>& values, DType dtype, int64_t rows) {
  const int64_t k = static_cast<int64_t>(values.size()) / rows;
  Weights weights{std::vector<uint8_t>(dtype_bytes(dtype, static_cast<int64_t>(values.size()))), {}, {}};
  if (dtype == DType::i8) {
    weights.scales.resize(rows);
    ref::quantize_rows_int8(values.data(), rows, k, reinterpret_cast<int8_t*>(weights.data.data()),
                            weights.scales.data());
  } else {
    convert_from_f32(values.data(), weights.data.data(), dtype, values.size());
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const float scale = dtype == DType::i8 ? weights.scales[i / k] : 1.0f;
    weights.abs_f32.push_back(std::abs(load_as_f32(weights.data.data(), dtype, i) * scale));
  }
  return weights;
}

// Blocks holding the integer values exactly, the b-th block of the matrix scaled by 2^-(b % 3) (q4_1:
// codes value + 8 with minimum -8 x the scale; q4_0: codes value + 8). Values are in -8..7.
std::vector<uint8_t> integer_blocks(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> data(dtype_bytes(dtype, static_cast<int64_t>(values.size())));
  for (size_t b = 0; b < values.size() / kQuantBlock; ++b) {
    const float scale = std::ldexp(1.0f, -static_cast<int>(b % 3));
    const float* in = values.data() + b * kQuantBlock;
    if (dtype == DType::q8_0) {
      BlockQ8_0& block = reinterpret_cast<BlockQ8_0*>(data.data())[b];
      block.scale = f32_to_f16(scale);
      for (int64_t i = 0; i < kQuantBlock; ++i) block.values[i] = static_cast<int8_t>(in[i]);
    } else if (dtype == DType::q4_0) {
      BlockQ4_0& block = reinterpret_cast<BlockQ4_0*>(data.data())[b];
      block.scale = f32_to_f16(scale);
      for (int64_t j = 0; j < kQuantBlock / 2; ++j)
        block.nibbles[j] = static_cast<uint8_t>(static_cast<int>(in[j] + 8) | static_cast<int>(in[j + 16] + 8) << 4);
    } else {
      BlockQ4_1& block = reinterpret_cast<BlockQ4_1*>(data.data())[b];
      block.scale = f32_to_f16(scale);
      block.minimum = f32_to_f16(-8.0f * scale);
      for (int64_t j = 0; j < kQuantBlock / 2; ++j)
        block.nibbles[j] = static_cast<uint8_t>(static_cast<int>(in[j] + 8) | static_cast<int>(in[j + 16] + 8) << 4);
    }
  }
  return data;
}

class MatmulTest : public testing::TestWithParam<DType> {};

// SHARDLM_PREFILL_INPUTS's two choices for the scope's products; the default (int16) afterwards.
struct ScopedPrefillInputs {
  explicit ScopedPrefillInputs(bool eight_bits) { cpu::set_prefill_inputs_for_testing(eight_bits); }
  ~ScopedPrefillInputs() { cpu::set_prefill_inputs_for_testing(false); }
};

TEST_P(MatmulTest, MatchesReferenceWithinRoundingOfAnF32Sum) {
  const DType dtype = GetParam();
  std::mt19937 rng(42);
  const bool blocks = is_block_dtype(dtype);
  for (int64_t m : kRowCounts) {
    for (int64_t k : blocks ? std::span<const int64_t>(kBlockRowLengths) : std::span<const int64_t>(kSizes)) {
      for (int64_t n : kSizes) {
        if (m * n * k > kMaxReferenceMacs) continue;
        SCOPED_TRACE(testing::Message() << "m=" << m << " n=" << n << " k=" << k);
        const std::vector<float> x = test::random_floats(rng, m * k, -1, 1);
        const Weights w = make_weights(test::random_floats(rng, n * k, -1, 1), dtype, n);
        std::vector<float> expected(m * n), expected_quantized(m * n), abs_sums(m * n);
        ref::matmul(x.data(), w.data.data(), dtype, expected.data(), m, n, k, w.row_scales());
        std::vector<float> expected_wide(m * n);
        if (blocks) ref::matmul_wide_quantized_inputs(x.data(), w.data.data(), dtype, expected_wide.data(), m, n, k);
        if (blocks || dtype == DType::bf16)
          ref::matmul_quantized_inputs(x.data(), w.data.data(), dtype, expected_quantized.data(), m, n, k);
        std::vector<float> abs_x(x.size());
        for (size_t i = 0; i < x.size(); ++i) abs_x[i] = std::abs(x[i]);
        // sum_i |x_i w_i|
        ref::matmul(abs_x.data(), w.abs_f32.data(), DType::f32, abs_sums.data(), m, n, k);

        for (bool eight_bit_prefill : {false, true})
        test::for_each_kernel_config([&](ThreadPool& pool) {
          // Where the level multiplies block formats by quantized inputs (16-bit, or 8-bit for more
          // than a few rows where asked), or bf16 weights by bf16-rounded ones, that is the contract.
          ScopedPrefillInputs prefill_inputs(eight_bit_prefill);
          const bool quantized = cpu::matmul_quantizes_inputs(dtype);
          const bool wide = blocks && (m <= cpu::kMaxWideInputRows || !eight_bit_prefill);
          const std::vector<float>& want = !quantized ? expected : wide ? expected_wide : expected_quantized;
          std::vector<float> y(m * n, NAN);
          cpu::matmul(pool, x.data(), w.data.data(), dtype, y.data(), m, n, k, w.row_scales());
          for (int64_t i = 0; i < m * n; ++i) {
            // Both sides read identical weights, so the only difference is the kernel's f32
            // accumulation of k products (the reference sums in double); int8 adds one rounding,
            // the product of the finished sum and the row's scale. A block format's value (scale x
            // code, plus minimum) rounds once, in the kernel as in the reference: the product is exact.
            // With quantized inputs, the reference rounds each input (code x scale) to f32 and the
            // kernel rounds each block's two factors (weight scale x input scale, minimum x input
            // sum) and their products: a few more roundings of the same sum, 4 units at most (the
            // quantized inputs are within 1/254 of x, hence the 1.01).
            const double scaling = dtype == DType::i8 ? test::kUnitRoundoff * abs_sums[i]
                                   : quantized        ? 4 * test::kUnitRoundoff * abs_sums[i] * 1.01
                                                      : 0.0;
            ASSERT_NEAR(y[i], want[i], test::sum_error_bound(k, abs_sums[i] * 1.01) + scaling)
                << "row " << i / n << " col " << i % n;
          }
        });
      }
    }
  }
}

// Small integers make every partial sum exact in f32 (|sum| <= 4128 * 64 + 129 * 127 * 8 < 2^24 / 4) and exactly
// representable in f16 and bf16, so any summation order must give the reference's result bit for
// bit: a dropped, doubled or misplaced element cannot hide inside a tolerance. The two larger shapes
// are big enough (over 1 M multiply-adds) for two threads to split them. int8 weights hold the
// integers as bytes with row scales 1, 1/2 and 1/4 in turn: powers of two keep every product exact,
// and a scale applied to the wrong row changes the result. The block formats do the same per block
// (q4_1 with minimum -8 x the scale, q4_0 with its implied -8, codes 0..15 for -8..7), so a scale read
// from the wrong block or
// a nibble from the wrong half shows.
TEST_P(MatmulTest, IntegerInputsGiveExactResults) {
  const DType dtype = GetParam();
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small_integer(-8, 8);
  struct Shape { int64_t m, n, k; };
  const bool blocks = is_block_dtype(dtype);
  const std::vector<Shape> shapes = blocks ? std::vector<Shape>{{1, 65, 4128}, {3, 4097, 160}, {17, 129, 800}, {5, 7, 32}}
                                           : std::vector<Shape>{{1, 65, 4097}, {3, 4097, 129}, {17, 129, 769}, {5, 7, 1},
                                                                {37, 71, 1601}};  // the blocked GEMM, 3 depth blocks
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(testing::Message() << "m=" << shape.m << " n=" << shape.n << " k=" << shape.k);
    std::vector<float> x(shape.m * shape.k), w_values(shape.n * shape.k);
    for (float& value : x) value = static_cast<float>(small_integer(rng));
    // Every block of 32 inputs holds a 127, so that inputs quantized per block (scale 127 / 127 = 1)
    // keep their values exactly and the exact result stands for that path too.
    for (size_t i = 0; i < x.size(); i += kQuantBlock) x[i] = 127.0f;
    for (float& value : w_values) value = static_cast<float>(std::min(small_integer(rng), blocks ? 7 : 8));
    Weights w;
    if (blocks) {
      w.data = integer_blocks(w_values, dtype);
    } else if (dtype == DType::i8) {
      for (float value : w_values) w.data.push_back(static_cast<uint8_t>(static_cast<int8_t>(value)));
      for (int64_t row = 0; row < shape.n; ++row) w.scales.push_back(std::ldexp(1.0f, -static_cast<int>(row % 3)));
    } else {
      w = make_weights(w_values, dtype, shape.n);
    }
    std::vector<float> expected(shape.m * shape.n);
    ref::matmul(x.data(), w.data.data(), dtype, expected.data(), shape.m, shape.n, shape.k, w.row_scales());
    test::for_each_kernel_config([&](ThreadPool& pool) {
      std::vector<float> y(shape.m * shape.n, NAN);
      cpu::matmul(pool, x.data(), w.data.data(), dtype, y.data(), shape.m, shape.n, shape.k, w.row_scales());
      for (size_t i = 0; i < y.size(); ++i) ASSERT_EQ(y[i], expected[i]) << "output " << i;
    });
  }
}

// Inputs quantized per block round half to even: with the block's largest value 127 (scale 1), the
// inputs 2.5, -3.5, 0.5 and 1.5 are ties and become 2, -4, 0 and 2, so against weights of ones the
// product is 127 + 2 - 4 + 0 + 2 = 127; rounding half away from zero would give 129, and a level that
// keeps inputs in f32 gives the exact 128. The row is repeated past kMaxWideInputRows, where inputs
// take 8 bits when SHARDLM_PREFILL_INPUTS=int8 asks for it.
TEST(MatmulQuantizedInputs, TiesRoundToEven) {
  ScopedPrefillInputs prefill_inputs(true);
  constexpr int64_t kRows = cpu::kMaxWideInputRows + 1;
  std::vector<float> x(kRows * kQuantBlock, 0.0f);
  for (int64_t r = 0; r < kRows; ++r) {
    float* row = x.data() + r * kQuantBlock;
    row[0] = 127.0f, row[1] = 2.5f, row[2] = -3.5f, row[3] = 0.5f, row[4] = 1.5f;
  }
  for (DType dtype : {DType::q8_0, DType::q4_1, DType::q4_0}) {
    SCOPED_TRACE(dtype_name(dtype));
    // The first block's scale in integer_blocks is 1: weights of exactly one.
    const std::vector<uint8_t> ones = integer_blocks(std::vector<float>(kQuantBlock, 1.0f), dtype);
    test::for_each_kernel_config([&](ThreadPool& pool) {
      std::vector<float> y(kRows, NAN);
      cpu::matmul(pool, x.data(), ones.data(), dtype, y.data(), kRows, 1, kQuantBlock);
      for (float value : y) EXPECT_EQ(value, cpu::matmul_quantizes_inputs(dtype) ? 127.0f : 128.0f);
    });
  }
}

// 16-bit inputs (a single row) round both parts half to even: with scale 1, 2 + 2.5 / 256 is 2 and
// 2.5 low units, which become 2 (even), so against ones the product is 127 + 2 + 2 / 256; half away
// from zero would give 3 low units, and f32 inputs keep the 2.5. An input of 2.5 leaves the low part
// a tie at 128 units, which is clamped to 127: 2 + 127 / 256.
TEST(MatmulQuantizedInputs, WideInputsRoundBothPartsToEven) {
  for (DType dtype : {DType::q8_0, DType::q4_1, DType::q4_0}) {
    SCOPED_TRACE(dtype_name(dtype));
    const std::vector<uint8_t> ones = integer_blocks(std::vector<float>(kQuantBlock, 1.0f), dtype);
    test::for_each_kernel_config([&](ThreadPool& pool) {
      const bool quantized = cpu::matmul_quantizes_inputs(dtype);
      std::vector<float> x(kQuantBlock, 0.0f);
      x[0] = 127.0f, x[1] = 2.0f + 2.5f / 256;
      float y = NAN;
      cpu::matmul(pool, x.data(), ones.data(), dtype, &y, 1, 1, kQuantBlock);
      EXPECT_EQ(y, quantized ? 129.0f + 2.0f / 256 : 129.0f + 2.5f / 256);
      x[1] = 2.5f;
      cpu::matmul(pool, x.data(), ones.data(), dtype, &y, 1, 1, kQuantBlock);
      EXPECT_EQ(y, quantized ? 129.0f + 127.0f / 256 : 129.5f);
    });
  }
}

// An empty dot product is zero, and empty outputs are left alone.
TEST_P(MatmulTest, EmptyShapes) {
  const DType dtype = GetParam();
  ThreadPool pool(2);
  std::vector<float> y(6, NAN);
  const float scales[3] = {1, 1, 1};
  cpu::matmul(pool, nullptr, nullptr, dtype, y.data(), 2, 3, 0, scales);
  for (float value : y) EXPECT_EQ(value, 0.0f);
  std::vector<float> untouched(4, 1.0f);
  const int64_t k = is_block_dtype(dtype) ? kQuantBlock : 2;
  const std::vector<float> x(2 * k, 1.0f);
  cpu::matmul(pool, x.data(), nullptr, dtype, untouched.data(), 2, 0, k, scales);
  cpu::matmul(pool, x.data(), nullptr, dtype, untouched.data(), 0, 2, k, scales);
  for (float value : untouched) EXPECT_EQ(value, 1.0f);
}

// ref's quantizer: the scale is the row's largest magnitude over 127, that element maps to +-127, a
// value half a step from two codes rounds away from zero, and a row of zeros gets scale 0.
TEST(QuantizeRowsInt8, AbsmaxPerRow) {
  const std::vector<float> rows = {0.5f, -2.54f, 1.27f, 0.01f,  // absmax 2.54: step 0.02
                                   0.0f, 0.0f, 0.0f, 0.0f};
  std::vector<int8_t> q(8);
  float scales[2];
  ref::quantize_rows_int8(rows.data(), 2, 4, q.data(), scales);
  EXPECT_FLOAT_EQ(scales[0], 2.54f / 127.0f);
  EXPECT_EQ(q[0], 25);    // 0.5 / 0.02
  EXPECT_EQ(q[1], -127);  // the largest magnitude
  EXPECT_EQ(q[2], 64);    // 1.27 / 0.02 = 63.5: away from zero
  EXPECT_EQ(q[3], 1);     // 0.01 / 0.02 = 0.5: away from zero
  EXPECT_EQ(scales[1], 0.0f);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(q[i], 0);
}

INSTANTIATE_TEST_SUITE_P(AllWeightDtypes, MatmulTest, testing::Values(DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0,
                                                                 DType::q4_1, DType::q4_0),
                         [](const testing::TestParamInfo<DType>& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace shardlm
