// AVX2 + FMA inner loops: 8 floats per register. AVX2 has no masked loads for 16-bit elements, so a
// tail shorter than a register is copied into zero-padded buffers and run through the same code.
// Compiled with AVX2 flags (see CMakeLists.txt), so everything here stays in this file: intrinsics
// (always inlined), builtins and functions in the anonymous namespace only, no inline functions or
// templates from other headers, whose out-of-line copies the linker could share with generic code.
#include <immintrin.h>

#include <type_traits>

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

// int8 weights: 8 bytes sign-extended to 32 bits and converted (their scale is applied by the caller).
struct LoadI8 {
  using Element = int8_t;
  static __m256 at(const void* w, int64_t i) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(w) + i));
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
  }
};

// ggml's block formats (see runtime/core/dtype.h; structs are not shared across the ISA files, so the
// offsets are spelled out): 8 values at element i of a row, i a multiple of 8, so a load is a quarter
// of a block. Rows are whole blocks, so dot_tile_fixed never reaches its zero-padded tail with them.
template <int BlockBytes>
const uint8_t* block_of(const void* w, int64_t i) {
  return static_cast<const uint8_t*>(w) + (i / 32) * BlockBytes;
}
__m256 broadcast_f16(const uint8_t* at) {
  uint16_t bits;
  __builtin_memcpy(&bits, at, 2);
  return _mm256_set1_ps(_cvtsh_ss(bits));
}

// q8_0: [f16 scale][32 x int8]; value = scale * byte.
struct LoadQ8_0 {
  using Element = void;
  static __m256 at(const void* w, int64_t i) {
    const uint8_t* block = block_of<34>(w, i);
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + i % 32));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes)), broadcast_f16(block));
  }
};

// q4_1: [f16 scale][f16 minimum][16 bytes]; byte j holds value j (low nibble) and j + 16 (high).
// value = scale * nibble + minimum, one FMA (exact product: an f16 times a 4-bit integer fits f32).
struct LoadQ4_1 {
  using Element = void;
  static __m256 at(const void* w, int64_t i) {
    const uint8_t* block = block_of<20>(w, i);
    const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 4 + (i & 15)));
    const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(i & 16) >> 2);  // 0 or 4
    const __m128i nibbles = _mm_and_si128(_mm_srl_epi16(packed, shift), _mm_set1_epi8(0x0F));
    const __m256 codes = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(nibbles));
    return _mm256_fmadd_ps(codes, broadcast_f16(block), broadcast_f16(block + 2));
  }
};

// q4_0: [f16 scale][16 bytes], nibbles as q4_1's; value = scale * (nibble - 8).
struct LoadQ4_0 {
  using Element = void;
  static __m256 at(const void* w, int64_t i) {
    const uint8_t* block = block_of<18>(w, i);
    const __m128i packed = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + (i & 15)));
    const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(i & 16) >> 2);  // 0 or 4
    const __m128i nibbles = _mm_and_si128(_mm_srl_epi16(packed, shift), _mm_set1_epi8(0x0F));
    const __m256 codes = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_cvtepu8_epi32(nibbles), _mm256_set1_epi32(8)));
    return _mm256_mul_ps(codes, broadcast_f16(block));
  }
};

// The sums of the 8 lanes of each of a, b, c, d, as [sum a, sum b, sum c, sum d]: pairs of registers
// are interleaved and added, so four reductions share their shuffles and additions.
__m128 sum_lanes_of_four(__m256 a, __m256 b, __m256 c, __m256 d) {
  // Within each 128-bit lane: ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise.
  const __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
  const __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
  // Within each 128-bit lane: [a, b, c, d] partial sums; then add the two lanes.
  const __m256 abcd = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// FMA latency is 4-5 cycles at 2 per cycle, so about 8 independent sums keep the units busy: small
// tiles unroll along k to get there. Tiles stay within 8 accumulators (dot_tile splits larger ones),
// leaving registers for the loads out of AVX2's 16.
constexpr int kMaxAccumulators = 8;
constexpr int unroll_for(int tile_size) { return tile_size >= 5 ? 1 : tile_size >= 3 ? 2 : 4; }

template <class Load, int Rows, int Cols>
void dot_tile_fixed(const float* x, int64_t x_stride, const void* w, int64_t w_stride, int64_t k, float* out,
                    int64_t out_stride) {
  using Element = typename Load::Element;
  constexpr int kUnroll = unroll_for(Rows * Cols);
  __m256 acc[Rows][Cols][kUnroll];
  for (int r = 0; r < Rows; ++r) {
    for (int c = 0; c < Cols; ++c) {
      for (int u = 0; u < kUnroll; ++u) acc[r][c][u] = _mm256_setzero_ps();
    }
  }
  int64_t i = 0;
  for (; i + kWidth * kUnroll <= k; i += kWidth * kUnroll) {
    for (int u = 0; u < kUnroll; ++u) {
      __m256 weights[Cols];
      for (int c = 0; c < Cols; ++c) weights[c] = Load::at(w, c * w_stride + i + u * kWidth);
      for (int r = 0; r < Rows; ++r) {
        const __m256 inputs = _mm256_loadu_ps(x + r * x_stride + i + u * kWidth);
        for (int c = 0; c < Cols; ++c) acc[r][c][u] = _mm256_fmadd_ps(inputs, weights[c], acc[r][c][u]);
      }
    }
  }
  for (; i + kWidth <= k; i += kWidth) {
    __m256 weights[Cols];
    for (int c = 0; c < Cols; ++c) weights[c] = Load::at(w, c * w_stride + i);
    for (int r = 0; r < Rows; ++r) {
      const __m256 inputs = _mm256_loadu_ps(x + r * x_stride + i);
      for (int c = 0; c < Cols; ++c) acc[r][c][0] = _mm256_fmadd_ps(inputs, weights[c], acc[r][c][0]);
    }
  }
  // Fewer than 8 left: copy them into zero-padded buffers, whose zeros add nothing. (Block formats
  // have no Element and never get here: their rows are whole blocks.)
  if constexpr (!std::is_void_v<Element>) {
    if (i < k) {
      const int64_t remaining = k - i;
      __m256 weights[Cols];
      for (int c = 0; c < Cols; ++c) {
        Element padded[kWidth] = {};
        __builtin_memcpy(padded, static_cast<const Element*>(w) + c * w_stride + i, remaining * sizeof(Element));
        weights[c] = Load::at(padded, 0);
      }
      for (int r = 0; r < Rows; ++r) {
        float padded[kWidth] = {};
        __builtin_memcpy(padded, x + r * x_stride + i, remaining * sizeof(float));
        const __m256 inputs = _mm256_loadu_ps(padded);
        for (int c = 0; c < Cols; ++c) acc[r][c][0] = _mm256_fmadd_ps(inputs, weights[c], acc[r][c][0]);
      }
    }
  }
  for (int r = 0; r < Rows; ++r) {
    __m256 totals[4];
    for (int c = 0; c < 4; ++c) {
      totals[c] = _mm256_setzero_ps();
      if (c < Cols) {
        for (int u = 0; u < kUnroll; ++u) totals[c] = _mm256_add_ps(totals[c], acc[r][c][u]);
      }
    }
    const __m128 sums = sum_lanes_of_four(totals[0], totals[1], totals[2], totals[3]);
    if (Cols == 4) {
      _mm_storeu_ps(out + r * out_stride, sums);
    } else {
      float lanes[4];
      _mm_storeu_ps(lanes, sums);
      for (int c = 0; c < Cols; ++c) out[r * out_stride + c] = lanes[c];
    }
  }
}

template <class Load, int Rows>
void dot_tile_rows(const float* x, int64_t x_stride, const void* w, int64_t w_stride, int cols, int64_t k, float* out,
                   int64_t out_stride) {
  switch (cols) {
    case 1: return dot_tile_fixed<Load, Rows, 1>(x, x_stride, w, w_stride, k, out, out_stride);
    case 2: return dot_tile_fixed<Load, Rows, 2>(x, x_stride, w, w_stride, k, out, out_stride);
    case 3: return dot_tile_fixed<Load, Rows, 3>(x, x_stride, w, w_stride, k, out, out_stride);
    default: return dot_tile_fixed<Load, Rows, 4>(x, x_stride, w, w_stride, k, out, out_stride);
  }
}

template <class Load>
void dot_tile(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
              float* out, int64_t out_stride) {
  if (rows * cols > kMaxAccumulators) {
    // Two shorter tiles over the same weights, which are still in L1 for the second.
    const int first = rows / 2;
    dot_tile<Load>(x, x_stride, first, w, w_stride, cols, k, out, out_stride);
    dot_tile<Load>(x + first * x_stride, x_stride, rows - first, w, w_stride, cols, k, out + first * out_stride,
                   out_stride);
    return;
  }
  switch (rows) {
    case 1: return dot_tile_rows<Load, 1>(x, x_stride, w, w_stride, cols, k, out, out_stride);
    case 2: return dot_tile_rows<Load, 2>(x, x_stride, w, w_stride, cols, k, out, out_stride);
    case 3: return dot_tile_rows<Load, 3>(x, x_stride, w, w_stride, cols, k, out, out_stride);
    default: return dot_tile_rows<Load, 4>(x, x_stride, w, w_stride, cols, k, out, out_stride);
  }
}

// Adds the count weighted value rows into Regs registers of each of Rows rows of y, at offset i. Each
// value row is read once, along contiguous memory, and serves all Rows rows; Rows x Regs independent
// FMA chains hide the FMA latency. Rows x Regs sums, Regs values and a weight fit the 16 registers.
template <int Rows, int Regs>
void weighted_sum_block(const float* a, int64_t a_stride, int64_t count, const float* x, int64_t x_stride, float* y,
                        int64_t y_stride) {
  // Fully unrolled, so that the sums live in registers only (a loop over an array of them that the
  // compiler leaves rolled stores every sum back to the stack on every value row).
  __m256 sums[Rows * Regs];
#pragma GCC unroll 16
  for (int s = 0; s < Rows * Regs; ++s) sums[s] = _mm256_loadu_ps(y + (s / Regs) * y_stride + (s % Regs) * kWidth);
  for (int64_t j = 0; j < count; ++j) {
    const float* row = x + j * x_stride;
    __m256 values[Regs];
#pragma GCC unroll 16
    for (int b = 0; b < Regs; ++b) values[b] = _mm256_loadu_ps(row + b * kWidth);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const __m256 factor = _mm256_set1_ps(a[r * a_stride + j]);
#pragma GCC unroll 16
      for (int b = 0; b < Regs; ++b) sums[r * Regs + b] = _mm256_fmadd_ps(factor, values[b], sums[r * Regs + b]);
    }
  }
#pragma GCC unroll 16
  for (int s = 0; s < Rows * Regs; ++s) _mm256_storeu_ps(y + (s / Regs) * y_stride + (s % Regs) * kWidth, sums[s]);
}

// Block widths by row count: one row takes 8 registers of sums (64 floats), several rows 2 each.
template <int Rows>
void weighted_sum_rows(const float* a, int64_t a_stride, int64_t count, const float* x, int64_t x_stride, float* y,
                       int64_t y_stride, int64_t n) {
  constexpr int kRegs = Rows == 1 ? 8 : 2;
  int64_t i = 0;
  for (; i + kRegs * kWidth <= n; i += kRegs * kWidth)
    weighted_sum_block<Rows, kRegs>(a, a_stride, count, x + i, x_stride, y + i, y_stride);
  for (; i + kWidth <= n; i += kWidth) weighted_sum_block<Rows, 1>(a, a_stride, count, x + i, x_stride, y + i, y_stride);
  for (; i < n; ++i) {
    for (int r = 0; r < Rows; ++r) {
      float sum = y[r * y_stride + i];
      for (int64_t j = 0; j < count; ++j) sum += a[r * a_stride + j] * x[j * x_stride + i];
      y[r * y_stride + i] = sum;
    }
  }
}

void weighted_sum(const float* a, int64_t a_stride, int rows, int64_t count, const float* x, int64_t x_stride,
                  float* y, int64_t y_stride, int64_t n) {
  switch (rows) {
    case 1: return weighted_sum_rows<1>(a, a_stride, count, x, x_stride, y, y_stride, n);
    case 2: return weighted_sum_rows<2>(a, a_stride, count, x, x_stride, y, y_stride, n);
    case 3: return weighted_sum_rows<3>(a, a_stride, count, x, x_stride, y, y_stride, n);
    default: return weighted_sum_rows<4>(a, a_stride, count, x, x_stride, y, y_stride, n);
  }
}

void widen_bf16(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) _mm256_storeu_ps(y + i, LoadBf16::at(x, i));
  for (; i < n; ++i) y[i] = __builtin_bit_cast(float, static_cast<uint32_t>(x[i]) << 16);
}

void widen_q8_0(const void* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; i += kWidth) _mm256_storeu_ps(y + i, LoadQ8_0::at(x, i));
}

void scale(float a, float* y, int64_t n) {
  const __m256 factor = _mm256_set1_ps(a);
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) _mm256_storeu_ps(y + i, _mm256_mul_ps(factor, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= a;
}

// exp(x) as 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2: r is x - n ln 2 with ln 2 split
// in two so that n ln 2 is exact to f32 precision, exp(r) is Cephes' degree-7 polynomial (under
// 2 ulp on that range), and 2^n is built in the exponent field. Without AVX-512's scalef, n must
// stay a normal exponent, so x below ln(FLT_MIN) gives 0 (expf would give a subnormal).
__m256 exp_ps(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33f)), _mm256_set1_ps(88.37f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(exponent)));
}

float exp_shifted(const float* x, int64_t n, float shift, float* y) {
  const __m256 offset = _mm256_set1_ps(shift);
  __m256 sum = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), offset));
    _mm256_storeu_ps(y + i, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (i < n) {  // the tail through a buffer padded with -inf, whose exp adds 0
    alignas(32) float tail[kWidth];
    for (int64_t j = 0; j < kWidth; ++j) tail[j] = i + j < n ? x[i + j] : -__builtin_inff();
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_load_ps(tail), offset));
    _mm256_store_ps(tail, e);
    for (int64_t j = 0; i + j < n; ++j) y[i + j] = tail[j];
    sum = _mm256_add_ps(sum, e);
  }
  __m128 quarter = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps(sum, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  return _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)));
}

float max(const float* x, int64_t n) {
  __m256 best = _mm256_set1_ps(-__builtin_inff());
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) best = _mm256_max_ps(best, _mm256_loadu_ps(x + i));
  __m128 quarter = _mm_max_ps(_mm256_castps256_ps128(best), _mm256_extractf128_ps(best, 1));
  quarter = _mm_max_ps(quarter, _mm_movehl_ps(quarter, quarter));
  float result = _mm_cvtss_f32(_mm_max_ss(quarter, _mm_movehdup_ps(quarter)));
  for (; i < n; ++i) result = x[i] > result ? x[i] : result;
  return result;
}

}  // namespace

const Kernels& avx2_kernels() {
  static const Kernels table{"avx2", {dot_tile<LoadF32>, dot_tile<LoadF16>, dot_tile<LoadBf16>, dot_tile<LoadI8>,
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
