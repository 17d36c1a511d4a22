// 16-bit float conversions against values fixed by the IEEE 754 and bfloat16 formats themselves.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "runtime/core/dtype.h"

namespace shardlm {
namespace {

TEST(DType, Bf16KnownEncodings) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(f32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_bf16(0.0f), 0x0000);
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);  // pi truncated to 8 significand bits
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::infinity()))));
}

TEST(DType, Bf16RoundsToNearestEven) {
  // 1 + 2^-8 is exactly between 1 and 1 + 2^-7: ties go to the even significand, 1.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1p-8f)), 1.0f);
  // 1 + 3 * 2^-8 is between 1 + 2^-7 (odd) and 1 + 2^-6 (even): ties go up to 1 + 2^-6.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 3 * 0x1p-8f)), 1.0f + 0x1p-6f);
  // Just above the midpoint rounds up.
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f)), 1.0f + 0x1p-7f);
}

TEST(DType, F16KnownEncodings) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
  EXPECT_EQ(f32_to_f16(65504.0f), 0x7BFF);   // largest finite half
  EXPECT_EQ(f32_to_f16(0x1p-24f), 0x0001);   // smallest subnormal half
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);
  EXPECT_TRUE(std::isinf(f16_to_f32(f32_to_f16(1e6f))));
}

TEST(DType, ConvertAndLoadAgree) {
  const float values[] = {0.1f, -3.5f, 1234.5f, 1e-3f};
  uint16_t half[4], brain[4];
  convert_from_f32(values, half, DType::f16, 4);
  convert_from_f32(values, brain, DType::bf16, 4);
  for (int i = 0; i < 4; ++i) {
    EXPECT_NEAR(load_as_f32(half, DType::f16, i), values[i], std::fabs(values[i]) * 0x1p-11f);
    EXPECT_NEAR(load_as_f32(brain, DType::bf16, i), values[i], std::fabs(values[i]) * 0x1p-8f);
  }
}

TEST(DType, NamesRoundTripAndBadNamesAreRejected) {
  for (DType dtype : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1, DType::q4_0})
    EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype);
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_THROW(parse_dtype("fp8"), std::runtime_error);
}

// ggml's block sizes: Q8_0 is 2 + 32 bytes a block, Q4_1 2 + 2 + 16; partial blocks do not exist.
TEST(DType, BlockFormatsCountBytesByBlocks) {
  EXPECT_EQ(dtype_bytes(DType::q8_0, 64), 68u);
  EXPECT_EQ(dtype_bytes(DType::q4_1, 96), 60u);
  EXPECT_EQ(dtype_bytes(DType::bf16, 3), 6u);
  EXPECT_THROW(dtype_bytes(DType::q4_1, 48), std::runtime_error);
  EXPECT_THROW(dtype_size(DType::q8_0), std::runtime_error);
}

// q8_0 by its definition: the scale is the block's largest magnitude / 127 (rounded to f16), that
// value maps to +-127, every value comes back within half a step, and a zero block is all zeros.
TEST(DType, Q8_0QuantizesEachBlockSymmetrically) {
  float x[64];
  for (int i = 0; i < 32; ++i) x[i] = 0.02f * static_cast<float>(i - 10);  // largest magnitude 0.42 at i = 31
  x[7] = -2.54f;                                                             // block 0's largest
  for (int i = 32; i < 64; ++i) x[i] = 0.0f;
  BlockQ8_0 blocks[2];
  convert_from_f32(x, blocks, DType::q8_0, 64);
  const float scale = f16_to_f32(blocks[0].scale);
  EXPECT_EQ(scale, f16_to_f32(f32_to_f16(2.54f / 127.0f)));
  EXPECT_EQ(blocks[0].values[7], -127);
  EXPECT_EQ(blocks[0].values[10], 0);
  EXPECT_EQ(blocks[0].values[11], 1);  // 0.02 / 0.0200043 rounds to 1
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(load_as_f32(blocks, DType::q8_0, i), x[i], scale / 2 * 1.0001f) << i;
  EXPECT_EQ(blocks[1].scale, 0);
  for (int i = 32; i < 64; ++i) EXPECT_EQ(load_as_f32(blocks, DType::q8_0, i), 0.0f) << i;
}

// q4_1 by its definition: minimum = the block's smallest value, scale = its range / 15 (both f16), the
// smallest value is code 0 and the largest code 15, every value within half a step (plus the f16
// rounding of the minimum); a constant block has scale 0 and gives its value back.
TEST(DType, Q4_1QuantizesEachBlockOverItsRange) {
  float x[64];
  for (int i = 0; i < 32; ++i) x[i] = 0.1f * static_cast<float>(i) - 1.0f;  // -1 .. 2.1
  for (int i = 32; i < 64; ++i) x[i] = 0.75f;
  BlockQ4_1 blocks[2];
  convert_from_f32(x, blocks, DType::q4_1, 64);
  const float scale = f16_to_f32(blocks[0].scale), minimum = f16_to_f32(blocks[0].minimum);
  EXPECT_EQ(minimum, -1.0f);
  EXPECT_EQ(scale, f16_to_f32(f32_to_f16((2.1f - -1.0f) / 15.0f)));
  EXPECT_EQ(blocks[0].nibbles[0] & 0x0F, 0);   // value 0: the smallest
  EXPECT_EQ(blocks[0].nibbles[15] >> 4, 15);   // value 31: the largest
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(load_as_f32(blocks, DType::q4_1, i), x[i], scale / 2 * 1.001f) << i;
  EXPECT_EQ(blocks[1].scale, 0);
  for (int i = 32; i < 64; ++i) EXPECT_EQ(load_as_f32(blocks, DType::q4_1, i), 0.75f) << i;
}

// q4_0 by llama.cpp's definition: scale = (the value of largest magnitude, with its sign) / -8, so
// that value is code 0 exactly; every other value within half a step (codes clamp at 15, so a value
// of the opposite sign and the same magnitude lands a step short); a block of zeros has scale 0.
TEST(DType, Q4_0QuantizesEachBlockByItsLargestMagnitude) {
  float x[64];
  for (int i = 0; i < 32; ++i) x[i] = 0.125f * static_cast<float>(i) - 1.5f;  // -1.5 .. 2.375
  for (int i = 32; i < 64; ++i) x[i] = 0.0f;
  BlockQ4_0 blocks[2];
  convert_from_f32(x, blocks, DType::q4_0, 64);
  const float scale = f16_to_f32(blocks[0].scale);
  EXPECT_EQ(scale, f16_to_f32(f32_to_f16(2.375f / -8.0f)));
  EXPECT_EQ(blocks[0].nibbles[15] >> 4, 0);  // value 31: the largest magnitude
  EXPECT_EQ(load_as_f32(blocks, DType::q4_0, 31), -8.0f * scale);
  for (int i = 0; i < 32; ++i) EXPECT_NEAR(load_as_f32(blocks, DType::q4_0, i), x[i], std::fabs(scale) / 2 * 1.001f) << i;
  EXPECT_EQ(f16_to_f32(blocks[1].scale), 0.0f);  // -0: zero over -8
  for (int i = 32; i < 64; ++i) EXPECT_EQ(load_as_f32(blocks, DType::q4_0, i), 0.0f) << i;
}

TEST(DType, BlockScalesThatOverflowF16AreRefused) {
  float x[32] = {};
  x[3] = 1e9f;
  uint8_t out[34];
  EXPECT_THROW(convert_from_f32(x, out, DType::q8_0, 32), std::runtime_error);
  EXPECT_THROW(convert_from_f32(x, out, DType::q4_1, 31), std::runtime_error);  // not a whole block
}

}  // namespace
}  // namespace shardlm

#if defined(__FLT16_MAX__)
namespace shardlm {
namespace {

// The integer half conversions (used where the compiler has no _Float16) against the compiler's.
TEST(PortableHalf, EveryHalfWidensAsTheCompilersDoes) {
  for (uint32_t bits = 0; bits <= 0xffffu; ++bits) {
    const auto half = static_cast<uint16_t>(bits);
    const float expected = static_cast<float>(std::bit_cast<_Float16>(half)), actual = half_to_float(half);
    if (std::isnan(expected)) {
      EXPECT_TRUE(std::isnan(actual)) << std::hex << bits;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(actual), std::bit_cast<uint32_t>(expected)) << std::hex << bits;
    }
  }
}

TEST(PortableHalf, NarrowingRoundsAsTheCompilersDoes) {
  // Every half, the midpoints between neighbours (ties to even) and one f32 step either side of each,
  // then random f32 bit patterns over the whole range.
  std::vector<float> values;
  for (uint32_t bits = 0; bits < 0x7c00u; ++bits) {
    const float low = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits)));
    const float high = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits + 1)));
    const float middle = low + (high - low) / 2;
    for (float v : {low, middle, std::nextafter(middle, 0.0f), std::nextafter(middle, 1e30f)})
      values.push_back(v), values.push_back(-v);
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 1000000; ++i) values.push_back(std::bit_cast<float>(static_cast<uint32_t>(rng())));
  for (float v : {65504.0f, 65519.0f, 65520.0f, 1e6f, INFINITY, -INFINITY}) values.push_back(v);
  for (const float v : values) {
    const uint16_t expected = std::bit_cast<uint16_t>(static_cast<_Float16>(v)), actual = float_to_half(v);
    if (std::isnan(v)) {
      EXPECT_EQ(actual & 0x7e00u, 0x7e00u) << "NaN stays a quiet NaN";
    } else {
      ASSERT_EQ(actual, expected) << "value " << v << std::hex << " bits " << std::bit_cast<uint32_t>(v);
    }
  }
}

}  // namespace
}  // namespace shardlm
#endif
