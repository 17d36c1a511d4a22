// Element types of tensors, and conversions between the 16-bit floats and f32.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/core/half_bits.h"

namespace shardlm {

// i8: weight-only int8, one signed byte a value; a matrix in i8 comes with one f32 scale per row
// (Linear::scale), and a value is the byte times its row's scale.
// q8_0, q4_1: ggml's block formats (the layout GGUF files store, so a GGUF tensor in them is used as
// it lies in the file). Each block holds 32 consecutive values of a row with its own f16 scale, so a
// row's length must be a multiple of 32; a tensor's bytes are its blocks, one after the other.
// q4_0: ggml's Q4_0 blocks as a GGUF file stores them (18 bytes per 32 values). The CPU kernels read
// them where they lie in the mapped file; the GPU's read q4_1, into which a rank's share is repacked
// exactly before upload (repack_file_formats).
enum class DType : uint8_t { f32, f16, bf16, i8, q8_0, q4_1, q4_0 };

inline constexpr int64_t kQuantBlock = 32;  // values per q8_0 / q4_1 block
// Value i of the block is scale * values[i] (symmetric int8).
struct BlockQ8_0 {
  uint16_t scale;  // f16
  int8_t values[kQuantBlock];
};
// Value i is scale * nibble(i) + minimum, nibble(i) in 0..15; byte j holds value j in its low nibble
// and value j + 16 in its high one (so the low nibbles of the 16 bytes are the block's first half).
struct BlockQ4_1 {
  uint16_t scale;    // f16
  uint16_t minimum;  // f16
  uint8_t nibbles[kQuantBlock / 2];
};
// Value i is scale * (nibble(i) - 8), nibbles ordered as q4_1's.
struct BlockQ4_0 {
  uint16_t scale;  // f16
  uint8_t nibbles[kQuantBlock / 2];
};
static_assert(sizeof(BlockQ8_0) == 34 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ4_0) == 18, "ggml's block sizes");

bool is_block_dtype(DType dtype);
// Bytes of one element; not defined for the block formats (throws), whose elements share bytes.
size_t dtype_size(DType dtype);
// Bytes of `count` consecutive elements of a row-major tensor (for a block format `count` must be a
// whole number of blocks, which a whole row is).
size_t dtype_bytes(DType dtype, int64_t count);
std::string_view dtype_name(DType dtype);
// Parses "f32" / "f16" / "bf16" / "int8" / "q8_0" / "q4_1"; throws naming the bad value otherwise.
DType parse_dtype(std::string_view name);

// bf16 is the top half of an f32; rounding to nearest even keeps the conversion unbiased.
inline uint16_t f32_to_bf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);  // quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}
inline float bf16_to_f32(uint16_t value) { return std::bit_cast<float>(static_cast<uint32_t>(value) << 16); }

// Kernel files are compiled with F16C and the rest without: the two versions live in different inline
// namespaces, so the linker never keeps one file's copy for the other's callers.
#if defined(__F16C__)
inline namespace f16c_half {
// The compiler's _Float16, one F16C instruction each way.
inline uint16_t f32_to_f16(float value) { return std::bit_cast<uint16_t>(static_cast<_Float16>(value)); }
inline float f16_to_f32(uint16_t value) { return static_cast<float>(std::bit_cast<_Float16>(value)); }
}  // namespace f16c_half
#else
inline namespace integer_half {
// Integer arithmetic (half_bits.h), inlined: without F16C at compile time, g++ lowers _Float16 to
// libgcc calls, which made loading a 7B GGUF's Q6_K head a fifth of the load time.
inline uint16_t f32_to_f16(float value) { return float_to_half(value); }
inline float f16_to_f32(uint16_t value) { return half_to_float(value); }
}  // namespace integer_half
#endif

// Reads element i of a buffer of the given dtype as f32 (an i8 element unscaled; a block format's
// element with its block's scale and minimum applied).
inline float load_as_f32(const void* data, DType dtype, size_t i) {
  switch (dtype) {
    case DType::f32: return static_cast<const float*>(data)[i];
    case DType::f16: return f16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::bf16: return bf16_to_f32(static_cast<const uint16_t*>(data)[i]);
    case DType::i8: return static_cast<float>(static_cast<const int8_t*>(data)[i]);
    case DType::q8_0: {
      const BlockQ8_0& block = static_cast<const BlockQ8_0*>(data)[i / kQuantBlock];
      return f16_to_f32(block.scale) * static_cast<float>(block.values[i % kQuantBlock]);
    }
    case DType::q4_1: {
      const BlockQ4_1& block = static_cast<const BlockQ4_1*>(data)[i / kQuantBlock];
      const size_t j = i % kQuantBlock;
      const int nibble = j < kQuantBlock / 2 ? block.nibbles[j] & 0x0F : block.nibbles[j - kQuantBlock / 2] >> 4;
      return f16_to_f32(block.scale) * static_cast<float>(nibble) + f16_to_f32(block.minimum);
    }
    case DType::q4_0: {
      const BlockQ4_0& block = static_cast<const BlockQ4_0*>(data)[i / kQuantBlock];
      const size_t j = i % kQuantBlock;
      const int nibble = j < kQuantBlock / 2 ? block.nibbles[j] & 0x0F : block.nibbles[j - kQuantBlock / 2] >> 4;
      return f16_to_f32(block.scale) * static_cast<float>(nibble - 8);
    }
  }
  return 0.0f;
}

// Converts n f32 values into a buffer of the given dtype (not i8, which needs scales: quantize_rows_int8).
// For q8_0, q4_1 and q4_0, n is a whole number of blocks, quantized block by block as llama.cpp's
// reference quantizers do: q8_0 symmetric (scale = largest magnitude / 127), q4_1 over the block's
// range (minimum = its smallest value, scale = range / 15), q4_0 with scale = (the value of largest
// magnitude, signed) / -8, so that value is code 0 and the codes 0..15 span [-8, 7] scales; each value
// rounded to the nearest code of the stored (f16) scale and minimum. Throws if a block's scale or
// minimum overflows f16.
void convert_from_f32(const float* src, void* dst, DType dtype, size_t n);

}  // namespace shardlm
