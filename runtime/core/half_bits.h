// IEEE half precision <-> f32 by integer arithmetic (rounding to nearest even), usable in host and
// GPU code alike: the GPU's weight decoding (kernels/cuda/weight_groups.h) and host code compiled
// without F16C (dtype.h) use it. Tested
// against _Float16 on every half and on the rounding boundaries (tests/unit/core/dtype_test.cpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "runtime/core/host_device.h"

namespace shardlm {

// The same bits as another type of the same size (std::bit_cast, which device code lacks).
template <class To, class From>
SHARDLM_HOST_DEVICE To same_bits(From value) {
  static_assert(sizeof(To) == sizeof(From), "same_bits needs types of one size");
  To out;
  std::memcpy(&out, &value, sizeof(out));
  return out;
}
SHARDLM_HOST_DEVICE float float_from_bits(uint32_t bits) { return same_bits<float>(bits); }

// Exact: every half is an f32.
SHARDLM_HOST_DEVICE float half_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16, exponent = (half >> 10) & 0x1fu,
                 mantissa = half & 0x3ffu;
  if (exponent == 0x1fu) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign != 0 ? -magnitude : magnitude;
  }
  return float_from_bits(sign | ((exponent + 112u) << 23) | (mantissa << 13));  // rebias 15 -> 127
}

SHARDLM_HOST_DEVICE uint16_t float_to_half(float value) {
  const uint32_t bits = same_bits<uint32_t>(value), magnitude = bits & 0x7fffffffu;
  const auto sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  if (magnitude > 0x7f800000u) return sign | 0x7e00u | static_cast<uint16_t>((magnitude >> 13) & 0x3ffu);  // quiet NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // 65520 and up round to infinity
  if (magnitude < 0x38800000u) {  // under 2^-14: a subnormal half, round(|value| x 2^24), exact scaling
    const float scaled = float_from_bits(magnitude) * 16777216.0f;
    auto units = static_cast<uint32_t>(scaled);
    const float rest = scaled - static_cast<float>(units);
    if (rest > 0.5f || (rest == 0.5f && (units & 1u) != 0)) ++units;  // 1024 encodes the smallest normal
    return sign | static_cast<uint16_t>(units);
  }
  uint32_t rebiased = magnitude - (112u << 23);  // exponent 127 -> 15
  rebiased += 0xfffu + ((rebiased >> 13) & 1u);  // round the 13 dropped bits to nearest even
  return sign | static_cast<uint16_t>(rebiased >> 13);
}

}  // namespace shardlm
