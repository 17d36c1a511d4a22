// AVX2 + FMA inner loops: 8 floats per register. AVX2 has no masked loads for 16-bit elements, so a
// tail shorter than a register is copied into zero-padded buffers and run through the same code.
// Compiled with AVX2 flags (see CMakeLists.txt), so everything here stays in this file: intrinsics
// (always inlined), builtins and functions in the anonymous namespace only, no inline functions or
// templates from other headers, whose out-of-line copies the linker could share with generic code.
#include <immintrin.h>

#include "kernels/cpu/simd.h"

namespace shardlm::cpu::simd {
namespace {

constexpr int64_t kWidth = 8;

struct LoadF32 {
  using Element = float;
  static __m256 at(const void* w, int64_t i) { return _mm256_loadu_ps(static_cast<const float*>(w) + i); }
};

struct LoadF16 {
  using Element = uint16_t;
  static __m256 at(const void* w, int64_t i) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i)));
  }
};

// bf16 is the top half of an f32: widen to 32 bits and shift left by 16.
struct LoadBf16 {
  using Element = uint16_t;
  static __m256 at(const void* w, int64_t i) {
    const __m128i halves = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(w) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(halves), 16));
  }
};

float horizontal_sum(__m256 v) {
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
  return _mm_cvtss_f32(sum);
}

// Unroll independent accumulators so that FMA latency (4-5 cycles, 2 per cycle) does not bound the
// loop: one input row needs 4 chains; with 2+ rows, 2 per row already give 4+.
template <class Load, int Rows>
void dot_rows_fixed(const float* x, int64_t x_stride, const void* w, int64_t k, float* out) {
  constexpr int kUnroll = Rows == 1 ? 4 : 2;
  __m256 acc[Rows][kUnroll];
  for (int r = 0; r < Rows; ++r) {
    for (int u = 0; u < kUnroll; ++u) acc[r][u] = _mm256_setzero_ps();
  }
  int64_t i = 0;
  for (; i + kWidth * kUnroll <= k; i += kWidth * kUnroll) {
    for (int u = 0; u < kUnroll; ++u) {
      const __m256 weights = Load::at(w, i + u * kWidth);
      for (int r = 0; r < Rows; ++r) {
        acc[r][u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * x_stride + i + u * kWidth), weights, acc[r][u]);
      }
    }
  }
  for (; i + kWidth <= k; i += kWidth) {
    const __m256 weights = Load::at(w, i);
    for (int r = 0; r < Rows; ++r) {
      acc[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * x_stride + i), weights, acc[r][0]);
    }
  }
  if (i < k) {
    // Zeros past the end contribute nothing to the sums.
    const int64_t remaining = k - i;
    typename Load::Element weight_tail[kWidth] = {};
    __builtin_memcpy(weight_tail, static_cast<const typename Load::Element*>(w) + i, remaining * sizeof(weight_tail[0]));
    const __m256 weights = Load::at(weight_tail, 0);
    for (int r = 0; r < Rows; ++r) {
      float x_tail[kWidth] = {};
      __builtin_memcpy(x_tail, x + r * x_stride + i, remaining * sizeof(float));
      acc[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x_tail), weights, acc[r][0]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    __m256 total = acc[r][0];
    for (int u = 1; u < kUnroll; ++u) total = _mm256_add_ps(total, acc[r][u]);
    out[r] = horizontal_sum(total);
  }
}

template <class Load>
void dot_rows(const float* x, int64_t x_stride, int rows, const void* w, int64_t k, float* out) {
  switch (rows) {
    case 1: return dot_rows_fixed<Load, 1>(x, x_stride, w, k, out);
    case 2: return dot_rows_fixed<Load, 2>(x, x_stride, w, k, out);
    case 3: return dot_rows_fixed<Load, 3>(x, x_stride, w, k, out);
    default: return dot_rows_fixed<Load, 4>(x, x_stride, w, k, out);
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  const __m256 factor = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(factor, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (; i < n; ++i) y[i] += a * x[i];
}

void scale(float a, float* y, int64_t n) {
  const __m256 factor = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) _mm256_storeu_ps(y + i, _mm256_mul_ps(factor, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels table{"avx2", {dot_rows<LoadF32>, dot_rows<LoadF16>, dot_rows<LoadBf16>}, axpy, scale};
  return table;
}

}  // namespace shardlm::cpu::simd
