#include "runtime/model/weights/ggml_dequantize.h"

#include <cmath>
#include <cstring>

#include "runtime/core/check.h"
#include "runtime/core/dtype.h"

namespace shardlm {
namespace {

float read_f16(const uint8_t* at) {
  uint16_t bits;
  std::memcpy(&bits, at, 2);
  return f16_to_f32(bits);
}

constexpr int64_t kSuperBlock = 256;
constexpr int64_t kQ4KBytes = 144, kQ6KBytes = 210;

// Scale and minimum of Q4_K sub-block j (0..7) from the 12 packed bytes: j < 4 keep theirs in the low
// 6 bits of bytes j and j + 4; j >= 4 in the nibbles of byte j + 4 with their top 2 bits in the high
// bits of bytes j - 4 and j.
void q4_K_scale_min(const uint8_t* packed, int j, int& scale, int& minimum) {
  if (j < 4) {
    scale = packed[j] & 63;
    minimum = packed[j + 4] & 63;
  } else {
    scale = (packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4);
    minimum = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
  }
}

// The 256 values of one Q4_K super-block.
void dequantize_q4_K(const uint8_t* block, float* out) {
  const float d = read_f16(block), dmin = read_f16(block + 2);
  const uint8_t* packed = block + 4;
  const uint8_t* nibbles = block + 16;
  for (int s = 0; s < 8; ++s) {
    int scale, minimum;
    q4_K_scale_min(packed, s, scale, minimum);
    const float step = d * static_cast<float>(scale), offset = dmin * static_cast<float>(minimum);
    const uint8_t* bytes = nibbles + 32 * (s / 2);
    for (int l = 0; l < 32; ++l) {
      const int code = s % 2 == 0 ? bytes[l] & 0x0F : bytes[l] >> 4;
      out[s * 32 + l] = step * static_cast<float>(code) - offset;
    }
  }
}

// The 256 values of one Q6_K super-block: each half of 128 takes 64 bytes of low nibbles, 32 of high
// bit pairs and 8 scales; within it, value l + 32 q (q = 0..3) comes from low byte l (+32 for q odd),
// its low nibble for q < 2, and bit pair q of high byte l.
void dequantize_q6_K(const uint8_t* block, float* out) {
  const float d = read_f16(block + 208);
  const auto* scales = reinterpret_cast<const int8_t*>(block + 192);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* low = block + 64 * half;
    const uint8_t* high = block + 128 + 32 * half;
    const int8_t* scale = scales + 8 * half;
    float* y = out + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int sub = l / 16;
      const int codes[4] = {(low[l] & 0x0F) | ((high[l] & 3) << 4), (low[l + 32] & 0x0F) | (((high[l] >> 2) & 3) << 4),
                            (low[l] >> 4) | (((high[l] >> 4) & 3) << 4), (low[l + 32] >> 4) | (((high[l] >> 6) & 3) << 4)};
      for (int q = 0; q < 4; ++q)
        y[l + 32 * q] = d * static_cast<float>(scale[sub + 2 * q]) * static_cast<float>(codes[q] - 32);
    }
  }
}

}  // namespace

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  switch (type) {
    case GgmlType::f32: std::memcpy(dst, src, n * sizeof(float)); return;
    case GgmlType::f16:
      for (int64_t i = 0; i < n; ++i) dst[i] = read_f16(src + 2 * i);
      return;
    case GgmlType::bf16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t bits;
        std::memcpy(&bits, src + 2 * i, 2);
        dst[i] = bf16_to_f32(bits);
      }
      return;
    case GgmlType::q4_0:
      for (int64_t block = 0; block < n / 32; ++block, src += 18, dst += 32) {
        const float scale = read_f16(src);
        for (int j = 0; j < 16; ++j) {
          dst[j] = scale * static_cast<float>((src[2 + j] & 0x0F) - 8);
          dst[j + 16] = scale * static_cast<float>((src[2 + j] >> 4) - 8);
        }
      }
      return;
    case GgmlType::q4_1:
      for (int64_t i = 0; i < n; ++i) dst[i] = load_as_f32(src, DType::q4_1, i);
      return;
    case GgmlType::q8_0:
      for (int64_t i = 0; i < n; ++i) dst[i] = load_as_f32(src, DType::q8_0, i);
      return;
    case GgmlType::q4_K:
      for (int64_t b = 0; b < n / kSuperBlock; ++b) dequantize_q4_K(src + b * kQ4KBytes, dst + b * kSuperBlock);
      return;
    case GgmlType::q6_K:
      for (int64_t b = 0; b < n / kSuperBlock; ++b) dequantize_q6_K(src + b * kQ6KBytes, dst + b * kSuperBlock);
      return;
  }
  SHARDLM_FAIL("cannot dequantize ggml type {}", static_cast<uint32_t>(type));
}

void repack_q4_0_as_q4_1(const uint8_t* src, int64_t blocks, BlockQ4_1* dst) {
  for (int64_t b = 0; b < blocks; ++b, src += 18) {
    std::memcpy(&dst[b].scale, src, 2);
    const float minimum = -8.0f * f16_to_f32(dst[b].scale);
    SHARDLM_CHECK(std::fabs(minimum) <= 65504.0f, "a Q4_0 block's scale {} is too large to repack",
                  f16_to_f32(dst[b].scale));
    dst[b].minimum = f32_to_f16(minimum);
    std::memcpy(dst[b].nibbles, src + 2, sizeof(dst[b].nibbles));
  }
}

void repack_q4_K_as_q4_1(const uint8_t* src, int64_t super_blocks, BlockQ4_1* dst) {
  for (int64_t b = 0; b < super_blocks; ++b, src += kQ4KBytes) {
    const float d = read_f16(src), dmin = read_f16(src + 2);
    for (int s = 0; s < 8; ++s) {
      int scale, minimum;
      q4_K_scale_min(src + 4, s, scale, minimum);
      BlockQ4_1& out = dst[b * 8 + s];
      out.scale = f32_to_f16(d * static_cast<float>(scale));
      out.minimum = f32_to_f16(-dmin * static_cast<float>(minimum));
      SHARDLM_CHECK(std::isfinite(f16_to_f32(out.scale)) && std::isfinite(f16_to_f32(out.minimum)),
                    "a Q4_K block's scale {} or minimum {} does not fit f16", d * scale, dmin * minimum);
      const uint8_t* bytes = src + 16 + 32 * (s / 2);
      auto code = [&](int l) { return s % 2 == 0 ? bytes[l] & 0x0F : bytes[l] >> 4; };
      for (int t = 0; t < 16; ++t) out.nibbles[t] = static_cast<uint8_t>(code(t) | code(t + 16) << 4);
    }
  }
}

void requantize_q6_K_as_q8_0(const uint8_t* src, int64_t super_blocks, BlockQ8_0* dst) {
  float values[kSuperBlock];
  for (int64_t b = 0; b < super_blocks; ++b, src += kQ6KBytes) {
    dequantize_q6_K(src, values);
    convert_from_f32(values, dst + b * (kSuperBlock / kQuantBlock), DType::q8_0, kSuperBlock);
  }
}

}  // namespace shardlm
