// 16-bit float conversions against values fixed by the IEEE 754 and bfloat16 formats themselves.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

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
  for (DType dtype : {DType::f32, DType::f16, DType::bf16}) EXPECT_EQ(parse_dtype(dtype_name(dtype)), dtype);
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_THROW(parse_dtype("fp8"), std::runtime_error);
}

}  // namespace
}  // namespace shardlm
