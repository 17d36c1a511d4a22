// Decoding weight rows of every stored dtype into f32, in groups of 32 values: the part of the GPU's
// quantized products that is pure arithmetic on bits. Host and device code alike (the CPU tests check
// it against load_as_f32 on every f16 bit pattern and on random blocks), so the layouts are verified
// on machines without a GPU. Dtype codes are DType's order (0 f32, 1 f16, 2 bf16, 3 i8, 4 q8_0,
// 5 q4_1); a row of k values is row_bytes(dtype, k) bytes, rows one after the other.
#pragma once

#include <cstdint>

#include "runtime/core/half_bits.h"

namespace shardlm::cuda {

enum WeightCode : int { kF32 = 0, kF16 = 1, kBf16 = 2, kI8 = 3, kQ8_0 = 4, kQ4_1 = 5 };
inline constexpr int kGroup = 32;  // values per group; a q8_0 / q4_1 block is one group

// How CudaOps multiplies weights cuBLAS cannot take as stored (also what the planner counts of its
// scratch): up to kMaxMatvecRows input rows decode them in registers; more rows dequantize slices of
// at most kDequantizedSliceBytes of bf16 weight rows for cuBLAS.
inline constexpr int64_t kMaxMatvecRows = 8;
inline constexpr int64_t kDequantizedSliceBytes = int64_t{32} << 20;

SHARDLM_HOST_DEVICE int64_t row_bytes(int dtype, int64_t k) {
  switch (dtype) {
    case kF32: return 4 * k;
    case kF16:
    case kBf16: return 2 * k;
    case kI8: return k;
    case kQ8_0: return k / kGroup * 34;
    default: return k / kGroup * 20;  // q4_1
  }
}

// Value i of a row (an i8 value unscaled: the caller applies the row's scale).
SHARDLM_HOST_DEVICE float row_value(const uint8_t* row, int dtype, int64_t i) {
  switch (dtype) {
    case kF32: return reinterpret_cast<const float*>(row)[i];
    case kF16: return half_to_float(reinterpret_cast<const uint16_t*>(row)[i]);
    case kBf16: return float_from_bits(static_cast<uint32_t>(reinterpret_cast<const uint16_t*>(row)[i]) << 16);
    case kI8: return static_cast<float>(reinterpret_cast<const int8_t*>(row)[i]);
    case kQ8_0: {
      const uint8_t* block = row + i / kGroup * 34;
      return half_to_float(*reinterpret_cast<const uint16_t*>(block)) *
             static_cast<float>(static_cast<int8_t>(block[2 + i % kGroup]));
    }
    default: {  // q4_1: byte j of the nibbles holds value j (low) and value j + 16 (high)
      const uint8_t* block = row + i / kGroup * 20;
      const int64_t j = i % kGroup;
      const int nibble = j < 16 ? block[4 + j] & 0x0f : block[4 + j - 16] >> 4;
      return half_to_float(reinterpret_cast<const uint16_t*>(block)[0]) * static_cast<float>(nibble) +
             half_to_float(reinterpret_cast<const uint16_t*>(block)[1]);
    }
  }
}

// Values 32g .. 32g + 31 of a row into out, with each block's header read once and its bytes in
// words where the layout's alignment allows (q4_1 blocks are 20 bytes, so 4-byte aligned; q8_0's
// 34-byte blocks only 2-byte aligned).
template <int kDtype>
SHARDLM_HOST_DEVICE void decode_group(const uint8_t* row, int64_t g, float (&out)[kGroup]) {
  if constexpr (kDtype == kQ4_1) {
    const auto* words = reinterpret_cast<const uint32_t*>(row + g * 20);
    const float scale = half_to_float(static_cast<uint16_t>(words[0] & 0xffffu)),
                minimum = half_to_float(static_cast<uint16_t>(words[0] >> 16));
    for (int w = 0; w < 4; ++w) {
      const uint32_t nibbles = words[1 + w];
      for (int b = 0; b < 4; ++b) {
        out[4 * w + b] = scale * static_cast<float>((nibbles >> (8 * b)) & 0x0fu) + minimum;
        out[16 + 4 * w + b] = scale * static_cast<float>((nibbles >> (8 * b + 4)) & 0x0fu) + minimum;
      }
    }
  } else if constexpr (kDtype == kQ8_0) {
    const auto* halves = reinterpret_cast<const uint16_t*>(row + g * 34);
    const float scale = half_to_float(halves[0]);
    for (int h = 0; h < kGroup / 2; ++h) {
      const uint16_t pair = halves[1 + h];
      out[2 * h] = scale * static_cast<float>(static_cast<int8_t>(pair & 0xffu));
      out[2 * h + 1] = scale * static_cast<float>(static_cast<int8_t>(pair >> 8));
    }
  } else {
    for (int i = 0; i < kGroup; ++i) out[i] = row_value(row, kDtype, g * kGroup + i);
  }
}

}  // namespace shardlm::cuda
