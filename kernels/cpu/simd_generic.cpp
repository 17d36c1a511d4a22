// Portable versions of the inner loops, for CPUs without AVX2. Each dot product keeps kLanes partial
// sums: the compiler cannot reorder a float sum itself, and separate sums let it use SSE registers
// and keep several additions in flight.
#include <bit>
#include <cmath>

#include "kernels/cpu/simd.h"
#include "runtime/core/dtype.h"

namespace shardlm::cpu::simd {
namespace {

constexpr int64_t kLanes = 8;

struct LoadF32 {
  static float at(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};

// IEEE half to f32 without branches, so that it vectorises: without F16C the compiler's conversion is
// a library call per element, many times slower. Shifted into place, the half's exponent and mantissa
// read as an f32 2^112 times too small; multiplying by 2^112 fixes the exponent of normal values and
// normalises subnormal ones, exactly (given the default, non-flushing denormal mode). Infinities and
// NaNs get the all-ones f32 exponent first, which the multiply leaves infinite or NaN.
float f16_bits_to_f32(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t magnitude = half & 0x7fffu;
  const uint32_t all_ones_exponent = magnitude >= 0x7c00u ? 0x7f800000u : 0u;
  const float value = std::bit_cast<float>((magnitude << 13) | all_ones_exponent) * 0x1p112f;
  return std::bit_cast<float>(std::bit_cast<uint32_t>(value) | sign);
}

struct LoadF16 {
  static float at(const void* w, int64_t i) { return f16_bits_to_f32(static_cast<const uint16_t*>(w)[i]); }
};
struct LoadBf16 {
  static float at(const void* w, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(w)[i]); }
};

struct LoadI8 {
  static float at(const void* w, int64_t i) { return static_cast<float>(static_cast<const int8_t*>(w)[i]); }
};

// ggml's block formats (runtime/core/dtype.h), element i of a row-major matrix whose rows are whole
// blocks: the block's scale (and minimum) decoded again for each of its values, which is slow but
// simple; machines without AVX2 are not where quantized models are served.
struct LoadQ8_0 {
  static float at(const void* w, int64_t i) {
    const BlockQ8_0& block = static_cast<const BlockQ8_0*>(w)[i / kQuantBlock];
    return f16_bits_to_f32(block.scale) * static_cast<float>(block.values[i % kQuantBlock]);
  }
};
struct LoadQ4_1 {
  static float at(const void* w, int64_t i) {
    const BlockQ4_1& block = static_cast<const BlockQ4_1*>(w)[i / kQuantBlock];
    const int64_t j = i % kQuantBlock, half = kQuantBlock / 2;
    const int nibble = j < half ? block.nibbles[j] & 0x0F : block.nibbles[j - half] >> 4;
    return f16_bits_to_f32(block.scale) * static_cast<float>(nibble) + f16_bits_to_f32(block.minimum);
  }
};

struct LoadQ4_0 {
  static float at(const void* w, int64_t i) {
    const BlockQ4_0& block = static_cast<const BlockQ4_0*>(w)[i / kQuantBlock];
    const int64_t j = i % kQuantBlock, half = kQuantBlock / 2;
    const int nibble = j < half ? block.nibbles[j] & 0x0F : block.nibbles[j - half] >> 4;
    return f16_bits_to_f32(block.scale) * static_cast<float>(nibble - 8);
  }
};

// The dot products of Rows input rows with the weight row starting at element `first` of w.
template <class Load, int Rows>
void dot_rows(const float* x, int64_t x_stride, const void* w, int64_t first, int64_t k, float* out) {
  float sums[Rows][kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    for (int64_t lane = 0; lane < kLanes; ++lane) {
      const float weight = Load::at(w, first + i + lane);
      for (int r = 0; r < Rows; ++r) sums[r][lane] += x[r * x_stride + i + lane] * weight;
    }
  }
  for (int64_t lane = 0; i < k; ++i, ++lane) {
    const float weight = Load::at(w, first + i);
    for (int r = 0; r < Rows; ++r) sums[r][lane] += x[r * x_stride + i] * weight;
  }
  for (int r = 0; r < Rows; ++r) {
    // Pairwise, so the rounding of the final reduction grows with log2(kLanes), not kLanes.
    for (int64_t width = kLanes / 2; width > 0; width /= 2) {
      for (int64_t lane = 0; lane < width; ++lane) sums[r][lane] += sums[r][lane + width];
    }
    out[r] = sums[r][0];
  }
}

// One weight row at a time, shared by all input rows: without wide registers, more simultaneous sums
// would not fit in the 16 SSE registers anyway.
template <class Load>
void dot_tile(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
              float* out, int64_t out_stride) {
  for (int c = 0; c < cols; ++c) {
    float dots[kMaxTileRows];
    switch (rows) {
      case 1: dot_rows<Load, 1>(x, x_stride, w, c * w_stride, k, dots); break;
      case 2: dot_rows<Load, 2>(x, x_stride, w, c * w_stride, k, dots); break;
      case 3: dot_rows<Load, 3>(x, x_stride, w, c * w_stride, k, dots); break;
      default: dot_rows<Load, 4>(x, x_stride, w, c * w_stride, k, dots); break;
    }
    for (int r = 0; r < rows; ++r) out[r * out_stride + c] = dots[r];
  }
}

void weighted_sum(const float* a, int64_t a_stride, int rows, int64_t count, const float* x, int64_t x_stride,
                  float* y, int64_t y_stride, int64_t n) {
  // Value row by value row: the inner loop runs along contiguous memory, which the compiler vectorises.
  for (int r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < count; ++j) {
      const float weight = a[r * a_stride + j];
      const float* row = x + j * x_stride;
      for (int64_t i = 0; i < n; ++i) y[r * y_stride + i] += weight * row[i];
    }
  }
}

void widen_bf16(const uint16_t* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

void widen_q8_0(const void* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = LoadQ8_0::at(x, i);
}

void scale(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

float exp_shifted(const float* x, int64_t n, float shift, float* y) {
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - shift);
    sum += y[i];
  }
  return sum;
}

float max(const float* x, int64_t n) {
  float best = x[0];
  for (int64_t i = 1; i < n; ++i) best = x[i] > best ? x[i] : best;
  return best;
}

}  // namespace

const Kernels& generic_kernels() {
  static const Kernels table{"generic", {dot_tile<LoadF32>, dot_tile<LoadF16>, dot_tile<LoadBf16>, dot_tile<LoadI8>,
                                         dot_tile<LoadQ8_0>, dot_tile<LoadQ4_1>, dot_tile<LoadQ4_0>},
                             {nullptr, nullptr, nullptr},
                             nullptr,
                             nullptr,
                             {nullptr, nullptr, nullptr},
                             {nullptr, nullptr},
                             nullptr,
                             nullptr,
                             nullptr,
                             weighted_sum,
                             widen_bf16,
                             widen_q8_0,
                             scale,
                             exp_shifted,
                             max};
  return table;
}

}  // namespace shardlm::cpu::simd
