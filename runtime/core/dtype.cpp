#include "runtime/core/dtype.h"

#include <cstring>

#include "runtime/core/check.h"

namespace shardlm {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::f16:
    case DType::bf16: return 2;
    case DType::i8: return 1;
  }
  return 0;
}

std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f16: return "f16";
    case DType::bf16: return "bf16";
    case DType::i8: return "int8";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32") return DType::f32;
  if (name == "f16") return DType::f16;
  if (name == "bf16") return DType::bf16;
  if (name == "int8") return DType::i8;
  SHARDLM_FAIL("unknown dtype '{}': expected f32, f16, bf16 or int8", name);
}

void convert_from_f32(const float* src, void* dst, DType dtype, size_t n) {
  switch (dtype) {
    case DType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case DType::f16:
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_f16(src[i]);
      return;
    case DType::bf16:
      for (size_t i = 0; i < n; ++i) static_cast<uint16_t*>(dst)[i] = f32_to_bf16(src[i]);
      return;
    case DType::i8: SHARDLM_FAIL("int8 values need a scale per row: quantize them with quantize_rows_int8");
  }
}

}  // namespace shardlm
