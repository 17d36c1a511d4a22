#include "runtime/plan/number_format.h"

#include "runtime/core/check.h"

namespace shardlm::plan {

std::string_view format_name(NumberFormat format) {
  switch (format) {
    case NumberFormat::f32:
      return "f32";
    case NumberFormat::f16:
      return "f16";
    case NumberFormat::bf16:
      return "bf16";
    case NumberFormat::int8:
      return "int8";
    case NumberFormat::int4:
      return "int4";
    case NumberFormat::q4_0:
      return "q4_0";
  }
  return "?";
}

NumberFormat parse_format(std::string_view text, std::string_view flag) {
  for (NumberFormat format :
       {NumberFormat::f32, NumberFormat::f16, NumberFormat::bf16, NumberFormat::int8, NumberFormat::int4})
    if (text == format_name(format)) return format;
  SHARDLM_FAIL("{} expects one of f32, f16, bf16, int8, int4; got '{}'", flag, text);
}

std::optional<DType> runtime_dtype(NumberFormat format) {
  switch (format) {
    case NumberFormat::f32:
      return DType::f32;
    case NumberFormat::f16:
      return DType::f16;
    case NumberFormat::bf16:
      return DType::bf16;
    default:
      return std::nullopt;
  }
}

int64_t matrix_bytes(int64_t rows, int64_t cols, NumberFormat format) {
  const int64_t n = rows * cols;
  switch (format) {
    case NumberFormat::f32:
      return 4 * n;
    case NumberFormat::f16:
    case NumberFormat::bf16:
      return 2 * n;
    case NumberFormat::int8:
      return n + 4 * rows;
    case NumberFormat::int4:
    case NumberFormat::q4_0:
      if (cols % kQuantBlock != 0) return matrix_bytes(rows, cols, NumberFormat::int8);
      return rows * static_cast<int64_t>(dtype_bytes(matrix_dtype(cols, format), cols));
  }
  return 0;
}

int64_t table_bytes(int64_t rows, int64_t cols, NumberFormat format) {
  switch (format) {
    case NumberFormat::int8:
      return matrix_bytes(rows, cols, NumberFormat::bf16);
    case NumberFormat::int4:
    case NumberFormat::q4_0:
      if (cols % kQuantBlock != 0) return matrix_bytes(rows, cols, NumberFormat::bf16);
      return rows * static_cast<int64_t>(dtype_bytes(DType::q8_0, cols));
    default:
      return matrix_bytes(rows, cols, format);
  }
}

DType matrix_dtype(int64_t cols, NumberFormat format) {
  switch (format) {
    case NumberFormat::f32: return DType::f32;
    case NumberFormat::f16: return DType::f16;
    case NumberFormat::bf16: return DType::bf16;
    case NumberFormat::int8: return DType::i8;
    case NumberFormat::int4: return cols % kQuantBlock == 0 ? DType::q4_1 : DType::i8;
    case NumberFormat::q4_0: return cols % kQuantBlock == 0 ? DType::q4_0 : DType::i8;
  }
  return DType::f32;
}

DType table_dtype(int64_t cols, NumberFormat format) {
  switch (format) {
    case NumberFormat::int8: return DType::bf16;
    case NumberFormat::int4:
    case NumberFormat::q4_0: return cols % kQuantBlock == 0 ? DType::q8_0 : DType::bf16;
    default: return matrix_dtype(cols, format);
  }
}

double value_bytes(NumberFormat format) {
  switch (format) {
    case NumberFormat::f32:
      return 4;
    case NumberFormat::f16:
    case NumberFormat::bf16:
      return 2;
    case NumberFormat::int8:
      return 34.0 / 32.0;  // q8_0: 32 bytes and an f16 scale per block of 32 values
    case NumberFormat::int4:
      return 0.5;
    case NumberFormat::q4_0:
      return 18.0 / 32.0;
  }
  return 0;
}

}  // namespace shardlm::plan
