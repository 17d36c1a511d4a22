// AVX-512 inner loops: 16 floats per register, masked loads for the tail so any k works without a
// scalar loop. Compiled with AVX-512 flags (see CMakeLists.txt), so everything here stays in this file:
// intrinsics (always inlined) and functions in the anonymous namespace only, no inline functions or
// templates from other headers, whose out-of-line copies the linker could share with generic code.
//
// The zero-masking forms (maskz with every lane set) of the conversions and the reduction are on
// purpose: GCC 12's unmasked forms pass a self-initialised "undefined" register that its
// -Wmaybe-uninitialized reports, and with an all-ones mask they compile to the same instructions.
#include <immintrin.h>

#include "kernels/cpu/simd.h"

namespace shardlm::cpu::simd {
namespace {

constexpr int64_t kWidth = 16;

constexpr __mmask16 kAllLanes = 0xffff;

__mmask16 tail_mask(int64_t remaining) { return static_cast<__mmask16>((1u << remaining) - 1u); }

float horizontal_sum(__m512 v) {
  const __m256 sum8 = _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1));
  __m128 sum4 = _mm_add_ps(_mm256_castps256_ps128(sum8), _mm256_extractf128_ps(sum8, 1));
  sum4 = _mm_add_ps(sum4, _mm_movehl_ps(sum4, sum4));
  sum4 = _mm_add_ss(sum4, _mm_movehdup_ps(sum4));
  return _mm_cvtss_f32(sum4);
}


struct LoadF32 {
  static __m512 full(const void* w, int64_t i) { return _mm512_loadu_ps(static_cast<const float*>(w) + i); }
  static __m512 masked(const void* w, int64_t i, __mmask16 mask) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(w) + i);
  }
};

// IEEE half to f32 is one instruction (F16C, widened by AVX-512F).
struct LoadF16 {
  static __m512 full(const void* w, int64_t i) {
    return _mm512_maskz_cvtph_ps(kAllLanes, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static __m512 masked(const void* w, int64_t i, __mmask16 mask) {
    return _mm512_maskz_cvtph_ps(kAllLanes, _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + i));
  }
};

// bf16 is the top half of an f32: widen to 32 bits and shift left by 16.
struct LoadBf16 {
  static __m512 widen(__m256i halves) {
    return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(kAllLanes, _mm512_maskz_cvtepu16_epi32(kAllLanes, halves), 16));
  }
  static __m512 full(const void* w, int64_t i) {
    return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i)));
  }
  static __m512 masked(const void* w, int64_t i, __mmask16 mask) {
    return widen(_mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(w) + i));
  }
};

// Unroll independent accumulators so that FMA latency (4 cycles, 2 per cycle) does not bound the
// loop: one input row needs 4 chains; with 2+ rows, 2 per row already give 4+.
template <class Load, int Rows>
void dot_rows_fixed(const float* x, int64_t x_stride, const void* w, int64_t k, float* out) {
  constexpr int kUnroll = Rows == 1 ? 4 : 2;
  __m512 acc[Rows][kUnroll];
  for (int r = 0; r < Rows; ++r) {
    for (int u = 0; u < kUnroll; ++u) acc[r][u] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + kWidth * kUnroll <= k; i += kWidth * kUnroll) {
    for (int u = 0; u < kUnroll; ++u) {
      const __m512 weights = Load::full(w, i + u * kWidth);
      for (int r = 0; r < Rows; ++r) {
        acc[r][u] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * x_stride + i + u * kWidth), weights, acc[r][u]);
      }
    }
  }
  for (; i + kWidth <= k; i += kWidth) {
    const __m512 weights = Load::full(w, i);
    for (int r = 0; r < Rows; ++r) {
      acc[r][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * x_stride + i), weights, acc[r][0]);
    }
  }
  if (i < k) {
    const __mmask16 mask = tail_mask(k - i);
    const __m512 weights = Load::masked(w, i, mask);
    for (int r = 0; r < Rows; ++r) {
      acc[r][0] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + r * x_stride + i), weights, acc[r][0]);
    }
  }
  for (int r = 0; r < Rows; ++r) {
    __m512 total = acc[r][0];
    for (int u = 1; u < kUnroll; ++u) total = _mm512_add_ps(total, acc[r][u]);
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
  const __m512 factor = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(factor, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  }
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    const __m512 sum = _mm512_fmadd_ps(factor, _mm512_maskz_loadu_ps(mask, x + i), _mm512_maskz_loadu_ps(mask, y + i));
    _mm512_mask_storeu_ps(y + i, mask, sum);
  }
}

void scale(float a, float* y, int64_t n) {
  const __m512 factor = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) _mm512_storeu_ps(y + i, _mm512_mul_ps(factor, _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 mask = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, mask, _mm512_mul_ps(factor, _mm512_maskz_loadu_ps(mask, y + i)));
  }
}

}  // namespace

const Kernels& avx512_kernels() {
  static const Kernels table{"avx512", {dot_rows<LoadF32>, dot_rows<LoadF16>, dot_rows<LoadBf16>}, axpy, scale};
  return table;
}

}  // namespace shardlm::cpu::simd
