// Element types of tensors, and conversions between the 16-bit floats and f32.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace shardlm {

// i8: weight-only int8, one signed byte a value; a matrix in i8 comes with one f32 scale per row
// (Linear::scale), and a value is the byte times its row's scale.
enum class DType : uint8_t { f32, f16, bf16, i8 };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
// Parses "f32" / "f16" / "bf16" / "int8"; throws naming the bad value otherwise.
DType parse_dtype(std::string_view name);

// bf16 is the top half of an f32; rounding to nearest even keeps the conversion unbiased.
inline uint16_t f32_to_bf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
inline float bf16_to_f32(uint16_t value) { return std::bit_cast<float>(static_cast<uint32_t>(value) << 16); }

// IEEE half precision through the compiler's _Float16, which g++ lowers to F16C where present.
inline uint16_t f32_to_f16(float value) { return std::bit_cast<uint16_t>(static_cast<_Float16>(value)); }
inline float f16_to_f32(uint16_t value) { return static_cast<float>(std::bit_cast<_Float16>(value)); }

// Reads element i of a buffer of the given dtype as f32 (an i8 element unscaled).
inline float load_as_f32(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(data)[i];
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::i8: return static_cast<float>(static_cast<const int8_t*>(data)[i]);
  }
  return 0.0f;
}

// Converts n f32 values into a buffer of the given dtype (not i8, which needs scales: quantize_rows_int8).
void convert_from_f32(const float* src, void* dst, DType dtype, size_t n);

}  // namespace shardlm
