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

}  // namespace shardlm
