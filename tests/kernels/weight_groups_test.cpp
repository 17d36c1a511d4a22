// The GPU's decoding of stored weights (kernels/cuda/weight_groups.h, host and device code alike)
// against the CPU's load_as_f32: runs everywhere, so the bit layouts the quantized GPU products rely
// on are checked on machines without a GPU (its half conversion: tests/unit/core/dtype_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cuda/weight_groups.h"
#include "kernels/ref/ops.h"
#include "runtime/core/dtype.h"
#include "tests/kernels/kernel_test_support.h"

namespace shardlm {
namespace {

// Rows of k values stored in `dtype`; i8 rows hold the quantized bytes (scales are the caller's).
std::vector<uint8_t> stored_rows(const std::vector<float>& values, DType dtype, int64_t rows, int64_t k) {
  std::vector<uint8_t> bytes(dtype_bytes(dtype, rows * k));
  if (dtype == DType::i8) {
    std::vector<float> scales(rows);
    ref::quantize_rows_int8(values.data(), rows, k, reinterpret_cast<int8_t*>(bytes.data()), scales.data());
  } else {
    convert_from_f32(values.data(), bytes.data(), dtype, values.size());
  }
  return bytes;
}

template <int kDtype>
void expect_groups_decode(const uint8_t* row, DType dtype, int64_t k) {
  for (int64_t g = 0; g < k / cuda::kGroup; ++g) {
    float values[cuda::kGroup];
    cuda::decode_group<kDtype>(row, g, values);
    for (int i = 0; i < cuda::kGroup; ++i)
      ASSERT_EQ(values[i], load_as_f32(row, dtype, g * cuda::kGroup + i)) << dtype_name(dtype) << " group " << g << " value " << i;
  }
}

TEST(WeightGroups, RowsOfEveryDtypeDecodeAsTheCpuReadsThem) {
  std::mt19937 rng(7);
  const int64_t rows = 3;
  for (const DType dtype : {DType::f32, DType::f16, DType::bf16, DType::i8, DType::q8_0, DType::q4_1}) {
    const int64_t k = is_block_dtype(dtype) ? 96 : 77;  // element dtypes: a row that is not whole groups
    const auto values = test::random_floats(rng, rows * k, -2, 3);
    const auto bytes = stored_rows(values, dtype, rows, k);
    const int code = static_cast<int>(dtype);
    ASSERT_EQ(cuda::row_bytes(code, k) * rows, static_cast<int64_t>(bytes.size())) << dtype_name(dtype);
    for (int64_t r = 0; r < rows; ++r) {
      const uint8_t* row = bytes.data() + r * cuda::row_bytes(code, k);
      for (int64_t i = 0; i < k; ++i)
        ASSERT_EQ(cuda::row_value(row, code, i), load_as_f32(row, dtype, i)) << dtype_name(dtype) << " row " << r << " value " << i;
      switch (dtype) {
        case DType::q8_0: expect_groups_decode<cuda::kQ8_0>(row, dtype, k); break;
        case DType::q4_1: expect_groups_decode<cuda::kQ4_1>(row, dtype, k); break;
        case DType::f16: expect_groups_decode<cuda::kF16>(row, dtype, k); break;
        case DType::i8: expect_groups_decode<cuda::kI8>(row, dtype, k); break;
        default: break;
      }
    }
  }
}

}  // namespace
}  // namespace shardlm
