// AVX-512 inner loops: 16 floats per register, and masked loads for the last few elements so that
// any length runs without a scalar loop. Compiled with AVX-512 flags (see CMakeLists.txt), so
// everything here stays in this file: intrinsics (always inlined) and functions in the anonymous
// namespace only, no inline functions or templates from other headers, whose out-of-line copies the
// linker could share with generic code.
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

// The largest of v's 16 lanes.
float largest_lane(__m512 v) {
  const __m256 half = _mm256_max_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1));
  __m128 quarter = _mm_max_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  quarter = _mm_max_ps(quarter, _mm_movehl_ps(quarter, quarter));
  return _mm_cvtss_f32(_mm_max_ss(quarter, _mm_movehdup_ps(quarter)));
}

// The sum of the two 256-bit halves of v.
__m256 fold_halves(__m512 v) {
  return _mm256_add_ps(_mm512_maskz_extractf32x8_ps(0xff, v, 0), _mm512_maskz_extractf32x8_ps(0xff, v, 1));
}

// The sums of the lanes of each of a, b, c, d, as [sum a, sum b, sum c, sum d]: after folding each to
// 256 bits, pairs of registers are interleaved and added, so four reductions share their shuffles.
__m128 sum_lanes_of_four(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m256 a8 = fold_halves(a), b8 = fold_halves(b), c8 = fold_halves(c), d8 = fold_halves(d);
  // Within each 128-bit lane: ab = [a0+a2, b0+b2, a1+a3, b1+b3], cd likewise.
  const __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a8, b8), _mm256_unpackhi_ps(a8, b8));
  const __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c8, d8), _mm256_unpackhi_ps(c8, d8));
  // Within each 128-bit lane: [a, b, c, d] partial sums; then add the two lanes.
  const __m256 abcd = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                    _mm256_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Sets a tile's partial sums to zero, every loop unrolled so that the sums live in registers only
// (left rolled, the compiler keeps the array on the stack and zeroes, stores and reloads it).
template <int Rows, int Cols, int Parts>
void zero_sums(__m512 (&acc)[Rows][Cols][Parts]) {
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) {
#pragma GCC unroll 32
      for (int p = 0; p < Parts; ++p) acc[r][c][p] = _mm512_setzero_ps();
    }
  }
}

// Stores the tile's dot products: for each row, the sum of its Parts partial sums per column, reduced
// across lanes four columns at a time.
template <int Rows, int Cols, int Parts>
void store_tile_sums(const __m512 (&acc)[Rows][Cols][Parts], float* out, int64_t out_stride) {
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
    __m512 totals[4];
#pragma GCC unroll 32
    for (int c = 0; c < 4; ++c) {
      totals[c] = _mm512_setzero_ps();
      if (c < Cols) {
#pragma GCC unroll 32
        for (int p = 0; p < Parts; ++p) totals[c] = _mm512_add_ps(totals[c], acc[r][c][p]);
      }
    }
    const __m128 sums = sum_lanes_of_four(totals[0], totals[1], totals[2], totals[3]);
    _mm_mask_storeu_ps(out + r * out_stride, static_cast<__mmask8>((1u << Cols) - 1u), sums);
  }
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
    const auto* halves = reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(w) + i);
    return _mm512_maskz_cvtph_ps(kAllLanes, _mm256_loadu_si256(halves));
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

// int8 weights: sign-extended to 32 bits and converted to f32 (their scale is applied by the caller).
struct LoadI8 {
  static __m512 widen(__m128i bytes) {
    return _mm512_maskz_cvtepi32_ps(kAllLanes, _mm512_maskz_cvtepi8_epi32(kAllLanes, bytes));
  }
  static __m512 full(const void* w, int64_t i) {
    return widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const int8_t*>(w) + i)));
  }
  static __m512 masked(const void* w, int64_t i, __mmask16 mask) {
    return widen(_mm_maskz_loadu_epi8(mask, static_cast<const int8_t*>(w) + i));
  }
};

// FMA latency is 4 cycles at 2 per cycle, so about 8 independent sums keep the units busy: small tiles
// unroll along k to get there. A 4 x 4 tile uses 16 accumulators plus 5 loaded registers of the 32.
constexpr int unroll_for(int tile_size) { return tile_size >= 8 ? 1 : tile_size >= 4 ? 2 : 4; }

template <class Load, int Rows, int Cols>
void dot_tile_fixed(const float* x, int64_t x_stride, const void* w, int64_t w_stride, int64_t k, float* out,
                    int64_t out_stride) {
  constexpr int kUnroll = unroll_for(Rows * Cols);
  __m512 acc[Rows][Cols][kUnroll];
  zero_sums(acc);
  int64_t i = 0;
  for (; i + kWidth * kUnroll <= k; i += kWidth * kUnroll) {
#pragma GCC unroll 32
    for (int u = 0; u < kUnroll; ++u) {
      __m512 weights[Cols];
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c) weights[c] = Load::full(w, c * w_stride + i + u * kWidth);
#pragma GCC unroll 32
      for (int r = 0; r < Rows; ++r) {
        const __m512 inputs = _mm512_loadu_ps(x + r * x_stride + i + u * kWidth);
#pragma GCC unroll 32
        for (int c = 0; c < Cols; ++c) acc[r][c][u] = _mm512_fmadd_ps(inputs, weights[c], acc[r][c][u]);
      }
    }
  }
  // The rest, a register at a time and a masked register for the last few: masked-off lanes load as
  // zero and add nothing.
  for (; i < k; i += kWidth) {
    const __mmask16 mask = k - i >= kWidth ? kAllLanes : tail_mask(k - i);
    __m512 weights[Cols];
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) weights[c] = Load::masked(w, c * w_stride + i, mask);
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      const __m512 inputs = _mm512_maskz_loadu_ps(mask, x + r * x_stride + i);
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c) acc[r][c][0] = _mm512_fmadd_ps(inputs, weights[c], acc[r][c][0]);
    }
  }
  store_tile_sums(acc, out, out_stride);
}

// Calls fixed.operator()<Rows, Cols>(args...) with the tile's shape as compile-time constants, so
// that the loops over it unroll fully and every sum stays in a register.
template <int Rows, class Fixed, class... Args>
void with_cols(int cols, Fixed fixed, Args... args) {
  switch (cols) {
    case 1: return fixed.template operator()<Rows, 1>(args...);
    case 2: return fixed.template operator()<Rows, 2>(args...);
    case 3: return fixed.template operator()<Rows, 3>(args...);
    default: return fixed.template operator()<Rows, 4>(args...);
  }
}

template <class Fixed, class... Args>
void with_shape(int rows, int cols, Fixed fixed, Args... args) {
  switch (rows) {
    case 1: return with_cols<1>(cols, fixed, args...);
    case 2: return with_cols<2>(cols, fixed, args...);
    case 3: return with_cols<3>(cols, fixed, args...);
    default: return with_cols<4>(cols, fixed, args...);
  }
}

template <class Load>
void dot_tile(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
              float* out, int64_t out_stride) {
  with_shape(rows, cols, []<int Rows, int Cols>(auto... args) { dot_tile_fixed<Load, Rows, Cols>(args...); }, x,
             x_stride, w, w_stride, k, out, out_stride);
}

// ggml's block formats (see runtime/core/dtype.h; structs are not shared across the ISA files, so the
// offsets are spelled out). A block of 32 values decodes into two registers of f32, its header read
// once: the decoding is the cost here (the FMAs are 2 a block), so it is done once per block and
// weight row and shared by every input row of the tile.

// q8_0: [f16 scale][32 x int8]; value = scale * byte.
struct DecodeQ8_0 {
  static constexpr int64_t kBytes = 34;
  static void decode(const uint8_t* block, __m512& low, __m512& high) {
    uint16_t bits;
    __builtin_memcpy(&bits, block, 2);
    const __m512 scale = _mm512_set1_ps(_cvtsh_ss(bits));
    low = _mm512_mul_ps(LoadI8::widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2))), scale);
    high = _mm512_mul_ps(LoadI8::widen(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 18))), scale);
  }
};

// q4_1: [f16 scale][f16 minimum][16 bytes]; byte j holds value j (low nibble) and j + 16 (high).
// value = scale * nibble + minimum, one FMA (exact product: an f16 times a 4-bit integer fits f32).
struct DecodeQ4_1 {
  static constexpr int64_t kBytes = 20;
  static __m512 widen(__m128i nibbles) {
    return _mm512_maskz_cvtepi32_ps(kAllLanes, _mm512_maskz_cvtepu8_epi32(kAllLanes, nibbles));
  }
  static void decode(const uint8_t* block, __m512& low, __m512& high) {
    int header;
    __builtin_memcpy(&header, block, 4);
    const __m128 scale_minimum = _mm_cvtph_ps(_mm_cvtsi32_si128(header));  // [scale, minimum, 0, 0]
    const __m512 scale = _mm512_maskz_broadcastss_ps(kAllLanes, scale_minimum);
    const __m512 minimum = _mm512_maskz_broadcastss_ps(kAllLanes, _mm_movehdup_ps(scale_minimum));
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 4));
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    low = _mm512_fmadd_ps(widen(_mm_and_si128(packed, low_mask)), scale, minimum);
    high = _mm512_fmadd_ps(widen(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask)), scale, minimum);
  }
};

// q4_0: [f16 scale][16 bytes], nibbles as q4_1's; value = scale * nibble - 8 x scale (exact, as q4_1's).
struct DecodeQ4_0 {
  static constexpr int64_t kBytes = 18;
  static void decode(const uint8_t* block, __m512& low, __m512& high) {
    uint16_t bits;
    __builtin_memcpy(&bits, block, 2);
    const float scale_value = _cvtsh_ss(bits);
    const __m512 scale = _mm512_set1_ps(scale_value), offset = _mm512_set1_ps(-8.0f * scale_value);
    const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
    const __m128i low_mask = _mm_set1_epi8(0x0F);
    low = _mm512_fmadd_ps(DecodeQ4_1::widen(_mm_and_si128(packed, low_mask)), scale, offset);
    high = _mm512_fmadd_ps(DecodeQ4_1::widen(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask)), scale, offset);
  }
};

// dot_tile_fixed for block formats: k and w_stride are whole blocks. Small tiles keep the two halves
// of a block in separate sums, so that a 1 x 4 tile still has 8 independent chains; a 4 x 4 tile's 16
// sums plus 8 decoded registers fill most of the 32.
template <class Decode, int Rows, int Cols>
void block_tile_fixed(const float* x, int64_t x_stride, const void* w, int64_t w_stride, int64_t k, float* out,
                      int64_t out_stride) {
  constexpr int kHalves = Rows * Cols <= 8 ? 2 : 1;
  const auto* weights = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = w_stride / 32 * Decode::kBytes;
  __m512 acc[Rows][Cols][kHalves];
  zero_sums(acc);
  for (int64_t i = 0; i < k; i += 32) {
    const uint8_t* block = weights + i / 32 * Decode::kBytes;
    __m512 low[Cols], high[Cols];
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) Decode::decode(block + c * row_bytes, low[c], high[c]);
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      const __m512 first = _mm512_loadu_ps(x + r * x_stride + i), second = _mm512_loadu_ps(x + r * x_stride + i + 16);
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c) {
        acc[r][c][0] = _mm512_fmadd_ps(first, low[c], acc[r][c][0]);
        acc[r][c][kHalves - 1] = _mm512_fmadd_ps(second, high[c], acc[r][c][kHalves - 1]);
      }
    }
  }
  store_tile_sums(acc, out, out_stride);
}

template <class Decode>
void block_tile(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
                float* out, int64_t out_stride) {
  with_shape(rows, cols, []<int Rows, int Cols>(auto... args) { block_tile_fixed<Decode, Rows, Cols>(args...); }, x,
             x_stride, w, w_stride, k, out, out_stride);
}

// Integer dot products with quantized inputs (simd.h's QuantizedDotTileFn), two blocks at a time:
// vpdpbusd multiplies 64 unsigned weight bytes by 64 signed input codes and sums each 4 into 16 int32
// lanes, lanes 0-7 from block b and 8-15 from block b+1. Each block's sum is scaled by (weight scale x
// input scale); a block's other term, c x input sum (q4_1: c = its minimum; q4_0: -8 x its scale;
// q8_0: -128 x its scale, undoing the +128 that made its bytes unsigned), is added into one lane of
// the block's, which the final reduction adds up with the rest. The unpacking of the weights is
// shared by the input rows.

// [low, high] (the masked inserts: see the top of the file).
__m512i join(__m256i low, __m256i high) {
  return _mm512_maskz_inserti64x4(0xFF, _mm512_maskz_inserti64x4(0xFF, _mm512_setzero_si512(), low, 0), high, 1);
}

// The nibbles of 4-bit blocks b and b+1 (BlockBytes apart, nibbles Offset bytes into a block) as 64
// bytes [b low, b high, b+1 low, b+1 high]: a block's low nibbles are its values 0-15 and its high ones
// 16-31, so this is the inputs' own order. Each block's 16 bytes are broadcast into two 128-bit lanes
// and the second of them shifted right by 4. Without a second block, the first fills its lanes too:
// they meet the inputs' zero padding.
template <int64_t BlockBytes, int Offset, bool Second>
__m512i nibble_pair(const uint8_t* block) {
  __m512i both = _mm512_maskz_broadcast_i32x4(kAllLanes, _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + Offset)));
  if (Second) {
    both = _mm512_mask_broadcast_i32x4(both, 0xFF00,
                                       _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + BlockBytes + Offset)));
  }
  both = _mm512_mask_srli_epi16(both, 0xFF00FF00u, both, 4);
  return _mm512_and_si512(both, _mm512_set1_epi8(0x0F));
}

struct PairQ4_1 {
  static constexpr int64_t kBytes = 20;
  template <bool Second>
  static __m512i bytes(const uint8_t* block) {
    return nibble_pair<kBytes, 4, Second>(block);
  }
  // [scale b, minimum b, scale b+1, minimum b+1]
  template <bool Second>
  static __m128 headers(const uint8_t* block) {
    uint32_t first, second = 0;
    __builtin_memcpy(&first, block, 4);
    if (Second) __builtin_memcpy(&second, block + kBytes, 4);
    // One move into a vector register: inserting 16- or 32-bit pieces one by one cost more here than
    // the whole dot product of the pair.
    return _mm_cvtph_ps(_mm_cvtsi64_si128(static_cast<long long>(first | static_cast<uint64_t>(second) << 32)));
  }
};

// Formats whose only other term is a multiple of the scale (q4_0: -8 x it; q8_0: -128 x it, undoing
// the +128 that made its bytes unsigned) take their scales as lanes (quantized_pair below).
// The pair's scales [scale b x 8 lanes, scale b+1 x 8 lanes], both picked from one masked load of the
// pair's first bytes by one word permute: the scales are 16-bit words kBytes / 2 apart.
template <int64_t BlockBytes, bool Second>
__m512 pair_scale_lanes(const uint8_t* block) {
  if (!Second) {  // block b+1 may lie past the weights: its lanes meet zero inputs, any finite value does
    uint16_t bits;
    __builtin_memcpy(&bits, block, 2);
    return _mm512_set1_ps(_cvtsh_ss(bits));
  }
  uint16_t first, second;
  __builtin_memcpy(&first, block, 2);
  __builtin_memcpy(&second, block + BlockBytes, 2);
  const __m256i words = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<short>(first))),
                                                _mm_set1_epi16(static_cast<short>(second)), 1);
  return _mm512_maskz_cvtph_ps(kAllLanes, words);
}

// q4_0: q4_1's nibbles 2 bytes into the block, and in place of a minimum, -8 x the scale.
struct PairQ4_0 {
  static constexpr int64_t kBytes = 18;
  static constexpr float kOffset = -8.0f;
  template <bool Second>
  static __m512i bytes(const uint8_t* block) {
    return nibble_pair<kBytes, 2, Second>(block);
  }
  template <bool Second>
  static __m512 scale_lanes(const uint8_t* block) {
    return pair_scale_lanes<kBytes, Second>(block);
  }
};

struct PairQ8_0 {
  static constexpr int64_t kBytes = 34;
  static constexpr float kOffset = -128.0f;
  // The int8 values of blocks b and b+1 plus 128, as unsigned bytes.
  template <bool Second>
  static __m512i bytes(const uint8_t* block) {
    const __m256i first = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
    const __m256i second =
        Second ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + kBytes + 2)) : _mm256_setzero_si256();
    const __m512i both = join(first, second);
    return _mm512_xor_si512(both, _mm512_set1_epi8(static_cast<char>(0x80)));
  }
  template <bool Second>
  static __m512 scale_lanes(const uint8_t* block) {
    return pair_scale_lanes<kBytes, Second>(block);
  }
};

// A pair's 16 lane sums of weight bytes x input codes. Wide: 16-bit inputs (simd.h), the high plane's
// sums shifted left by 8 plus the low plane's. Exact: |high sums| x 256 + |low sums| < 2^31 (at most
// 4 x 255 x 127 x 257 a lane).
template <bool Wide>
__m512i pair_dots(__m512i weights, __m512i inputs, __m512i low_inputs) {
  const __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), weights, inputs);
  return Wide ? _mm512_dpbusd_epi32(_mm512_maskz_slli_epi32(kAllLanes, dots, 8), weights, low_inputs) : dots;
}

// Pairs whose block's other term is kOffset x its scale (q4_0, q8_0) give their scales as lanes; q4_1
// gives its headers [scale b, minimum b, scale b+1, minimum b+1].
template <class Pair>
concept HasScaleLanes = requires { Pair::kOffset; };

// One pair of blocks of each of Cols weight rows times Rows input rows; the low plane of a wide input
// row lies half its codes_stride after the high one. Each lane's sum is scaled by its block's input
// scale and weight scale, and the block's other term (kOffset x weight scale x input sum, or q4_1's
// minimum x input sum) goes into one lane of the block's (lane 1 or 9). Formats with scale lanes fold
// it into the same two FMAs (the input lanes are made once per row, shared by the weight rows); q4_1
// scales [scale x input scale, minimum x input sum] per block, spread to the lanes.
template <class Pair, int Rows, int Cols, bool Second, bool Wide>
void quantized_pair(const int8_t* codes, const float* scales, int64_t codes_stride, const uint8_t* blocks,
                    int64_t row_bytes, __m512 (&acc)[Rows][Cols][1]) {
  constexpr bool kLanes = HasScaleLanes<Pair>;
  const int64_t plane = Wide ? codes_stride / 2 : 0, scales_stride = (codes_stride - plane) / 16;
  __m512i weights[Cols];
  __m512 weight_scales[Cols];  // lanes, or q4_1's headers in the low four
#pragma GCC unroll 32
  for (int c = 0; c < Cols; ++c) {
    weights[c] = Pair::template bytes<Second>(blocks + c * row_bytes);
    if constexpr (kLanes) {
      weight_scales[c] = Pair::template scale_lanes<Second>(blocks + c * row_bytes);
    } else {
      weight_scales[c] = _mm512_zextps128_ps512(Pair::template headers<Second>(blocks + c * row_bytes));
    }
  }
  // [b, sum b, b+1, sum b+1] -> lanes 0-7 take element 0 and 8-15 element 2; lanes 1 and 9 the sums.
  const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
  const __m512i sum_lanes = _mm512_setr_epi32(0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0);
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
    const __m512i inputs = _mm512_loadu_si512(codes + r * codes_stride);
    const __m512i low_inputs = Wide ? _mm512_loadu_si512(codes + r * codes_stride + plane) : inputs;
    const __m128 input_scales = _mm_loadu_ps(scales + r * scales_stride);
    const __m512 scale_lanes = _mm512_maskz_permutexvar_ps(kAllLanes, spread, _mm512_zextps128_ps512(input_scales));
    __m512 offsets = _mm512_setzero_ps();
    if constexpr (kLanes) {
      offsets = _mm512_maskz_permutexvar_ps(0x0202, sum_lanes,
                                            _mm512_zextps128_ps512(_mm_mul_ps(input_scales, _mm_set1_ps(Pair::kOffset))));
    }
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) {
      const __m512 sums = _mm512_maskz_cvtepi32_ps(kAllLanes, pair_dots<Wide>(weights[c], inputs, low_inputs));
      if constexpr (kLanes) {
        acc[r][c][0] = _mm512_fmadd_ps(_mm512_fmadd_ps(sums, scale_lanes, offsets), weight_scales[c], acc[r][c][0]);
      } else {
        const __m512 factors = _mm512_zextps128_ps512(_mm_mul_ps(_mm512_maskz_extractf32x4_ps(0xF, weight_scales[c], 0), input_scales));
        const __m512 lane_scales = _mm512_maskz_permutexvar_ps(kAllLanes, spread, factors);
        acc[r][c][0] = _mm512_fmadd_ps(sums, lane_scales, acc[r][c][0]);
        acc[r][c][0] = _mm512_mask_add_ps(acc[r][c][0], 0b1010, acc[r][c][0], factors);
      }
    }
  }
}

constexpr int64_t kPrefetchTiles = 16;

// Blocks [b, blocks) of the tile's weight rows, two a step, added to acc. Prefetch: the weight rows
// kPrefetchTiles tiles on, at the same place, into L2: the hardware's prefetchers do not run far
// enough ahead of a kernel this busy with each byte (measured: q4_1 streamed from memory at a third of
// its rate from the cache), and a decode's tiles take the rows in order. Into L2 and 16 tiles on
// streamed a 7B model's Q4_0 rows 10% faster on 2 threads than into L1 and 4 on (a Zen 4 VM: 22 -> 24
// GB/s), q4_1's 20% (22 -> 26).
template <class Pair, int Rows, int Cols, bool Wide, bool Prefetch>
void pair_steps(const int8_t* codes, const float* scales, int64_t codes_stride, const uint8_t* weights,
                int64_t row_bytes, int64_t b, int64_t blocks, __m512 (&acc)[Rows][Cols][1]) {
  for (; b + 2 <= blocks; b += 2) {
    if (Prefetch) {
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c)
        _mm_prefetch(reinterpret_cast<const char*>(weights + b * Pair::kBytes + (c + kPrefetchTiles * Cols) * row_bytes),
                     _MM_HINT_T1);
    }
    quantized_pair<Pair, Rows, Cols, true, Wide>(codes + b * 32, scales + b * 2, codes_stride, weights + b * Pair::kBytes,
                                                 row_bytes, acc);
  }
  if (b < blocks) {
    quantized_pair<Pair, Rows, Cols, false, Wide>(codes + b * 32, scales + b * 2, codes_stride, weights + b * Pair::kBytes,
                                                  row_bytes, acc);
  }
}

template <class Pair, bool Wide, int Rows, int Cols>
void quantized_tile_fixed(const int8_t* codes, const float* scales, int64_t codes_stride, const void* w,
                          int64_t w_stride, int64_t k, float* out, int64_t out_stride) {
  const auto* weights = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = w_stride / 32 * Pair::kBytes;
  __m512 acc[Rows][Cols][1];
  zero_sums(acc);
  pair_steps<Pair, Rows, Cols, Wide, true>(codes, scales, codes_stride, weights, row_bytes, 0, k / 32, acc);
  store_tile_sums(acc, out, out_stride);
}

template <class Pair, bool Wide>
void quantized_tile(const int8_t* codes, const float* scales, int64_t codes_stride, int rows, const void* w,
                    int64_t w_stride, int cols, int64_t k, float* out, int64_t out_stride) {
  with_shape(rows, cols, []<int Rows, int Cols>(auto... args) { quantized_tile_fixed<Pair, Wide, Rows, Cols>(args...); },
             codes, scales, codes_stride, w, w_stride, k, out, out_stride);
}

// simd.h's gemm_f32 for a fixed number of rows: Rows x 2 registers of sums (up to 16), the panel's
// two registers loaded once per input and used by every row.
template <int Rows>
void store_gemm_tile(__m512 (&acc)[Rows][2], float* y, int64_t y_stride, int cols, bool accumulate) {
  const __mmask16 first = cols >= 16 ? kAllLanes : tail_mask(cols);
  const __mmask16 second = cols > 16 ? tail_mask(cols - 16) : 0;
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
    float* row = y + r * y_stride;
    if (accumulate) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_maskz_loadu_ps(first, row));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_maskz_loadu_ps(second, row + 16));
    }
    _mm512_mask_storeu_ps(row, first, acc[r][0]);
    _mm512_mask_storeu_ps(row + 16, second, acc[r][1]);
  }
}

template <int Rows>
void gemm_f32_fixed(const float* x, int64_t x_stride, const float* panel, int64_t depth, float* y, int64_t y_stride,
                    int cols, bool accumulate) {
  __m512 acc[Rows][2];
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t i = 0; i < depth; ++i) {
    const __m512 low = _mm512_loadu_ps(panel + i * 32), high = _mm512_loadu_ps(panel + i * 32 + 16);
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      const __m512 input = _mm512_set1_ps(x[r * x_stride + i]);
      acc[r][0] = _mm512_fmadd_ps(input, low, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(input, high, acc[r][1]);
    }
  }
  store_gemm_tile(acc, y, y_stride, cols, accumulate);
}

// Calls fixed.operator()<Rows>(args...) for rows in 1..8 (simd.h's kGemmRows).
template <class Fixed, class... Args>
void with_gemm_rows(int rows, Fixed fixed, Args... args) {
  switch (rows) {
    case 1: return fixed.template operator()<1>(args...);
    case 2: return fixed.template operator()<2>(args...);
    case 3: return fixed.template operator()<3>(args...);
    case 4: return fixed.template operator()<4>(args...);
    case 5: return fixed.template operator()<5>(args...);
    case 6: return fixed.template operator()<6>(args...);
    case 7: return fixed.template operator()<7>(args...);
    default: return fixed.template operator()<8>(args...);
  }
}

void gemm_f32(const float* x, int64_t x_stride, int rows, const float* panel, int64_t depth, float* y,
              int64_t y_stride, int cols, bool accumulate) {
  with_gemm_rows(rows, []<int Rows>(auto... args) { gemm_f32_fixed<Rows>(args...); }, x, x_stride, panel, depth, y,
                 y_stride, cols, accumulate);
}

// 16 int32 lanes made at compile time (tables read from memory, not built at every call).
struct LaneTable {
  alignas(64) int32_t lanes[16];
};
template <class Rule>
constexpr LaneTable lane_table(Rule rule) {
  LaneTable table{};
  for (int lane = 0; lane < 16; ++lane) table.lanes[lane] = rule(lane);
  return table;
}

// The panel's column order: a 4 x 4 transpose of 32-bit groups leaves lane L of each 16-column half
// holding column 4 x (L mod 4) + L / 4 of that half (pack_quantized_panel), a map that is its own
// inverse, so the same index puts the finished sums back in column order.
__m512i panel_lane_order() {
  static constexpr LaneTable kOrder = lane_table([](int lane) { return 4 * (lane % 4) + lane / 4; });
  return _mm512_load_si512(kOrder.lanes);
}

// q4_0 and q4_1 at decode sizes, 16 blocks of each weight row a step: the per-block work of the pairs
// above (a scale's conversion, two FMAs) done once for 16 blocks. Four blocks' nibble bytes fill a
// register (block j in 128-bit lane j), their low and high nibbles multiply the inputs' values 0-15
// and 16-31 of the same blocks (two 64-bit shuffles of the input row), and the 4 lane sums of each
// block are folded so that 16 blocks' sums share one register, in panel_lane_order: block
// 4 x (L mod 4) + L / 4 in lane L. The inputs' [scale, sum] pairs come in that order by one
// two-register permute.
// The headers of a group come from the first 64 bytes of each quad (quad_starts), which hold all four
// of its headers: picked by two-register permutes, one for quads 0 and 1, one for 2 and 3, and blended
// into lane order (a gather of them cost a quarter of the time on Zen 4). Lane L takes the header of
// block j = L / 4 of quad e = L % 4; kLaterQuadLanes marks the lanes of quads 2 and 3.
constexpr __mmask16 kLaterQuadLanes = 0xCCCC;
constexpr __mmask32 kLaterQuadWords = 0xF0F0F0F0;  // the same lanes' 16-bit halves

template <class Format>
[[gnu::always_inline]] inline void quad_starts(const uint8_t* group, int present, __m512i (&starts)[4]) {
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const int64_t bytes = (present - 4 * q) * Format::kBytes;
    starts[q] = bytes >= 64 ? _mm512_loadu_si512(group + 4 * q * Format::kBytes)
                : bytes <= 0 ? _mm512_setzero_si512()
                             : _mm512_maskz_loadu_epi8((1ull << bytes) - 1, group + 4 * q * Format::kBytes);
  }
}

// q4_0: a 16-bit scale, 16 bytes of nibbles; headers as 32-bit lanes, the scale in the low half.
struct QuadQ4_0 {
  using Pair = PairQ4_0;  // for a row's last few blocks
  static constexpr int64_t kBytes = 18, kNibbles = 2;
  static constexpr bool kMinimum = false;
  static __m512i headers(const __m512i (&starts)[4]) {
    // The low word of lane L: the scale's word in quad (L mod 2) of the pair (the high word: word 0,
    // unused).
    static constexpr LaneTable kWords =
        lane_table([](int lane) { return (lane % 2) * 32 + lane / 4 * static_cast<int>(kBytes) / 2; });
    const __m512i words = _mm512_load_si512(kWords.lanes);
    const __m512i early = _mm512_permutex2var_epi16(starts[0], words, starts[1]);
    const __m512i late = _mm512_permutex2var_epi16(starts[2], words, starts[3]);
    return _mm512_mask_mov_epi16(early, kLaterQuadWords, late);
  }
};

// q4_1: 16-bit scale and minimum, then the nibbles; headers as [scale, minimum] 32-bit lanes.
struct QuadQ4_1 {
  using Pair = PairQ4_1;
  static constexpr int64_t kBytes = 20, kNibbles = 4;
  static constexpr bool kMinimum = true;
  static __m512i headers(const __m512i (&starts)[4]) {
    static constexpr LaneTable kDwords =
        lane_table([](int lane) { return (lane % 2) * 16 + lane / 4 * static_cast<int>(kBytes) / 4; });
    const __m512i dwords = _mm512_load_si512(kDwords.lanes);
    const __m512i early = _mm512_permutex2var_epi32(starts[0], dwords, starts[1]);
    const __m512i late = _mm512_permutex2var_epi32(starts[2], dwords, starts[3]);
    return _mm512_mask_mov_epi32(early, kLaterQuadLanes, late);
  }
};

// The nibble bytes of blocks 0 .. present - 1 (at most 4) from `block`, block j in 128-bit lane j, the
// rest zero.
template <class Format>
[[gnu::always_inline]] inline __m512i quad_bytes(const uint8_t* block, int present) {
  auto at = [&](int j) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + j * Format::kBytes + Format::kNibbles));
  };
  __m512i v = _mm512_zextsi128_si512(at(0));
  if (present > 1) v = _mm512_maskz_inserti32x4(kAllLanes, v, at(1), 1);
  if (present > 2) v = _mm512_maskz_inserti32x4(kAllLanes, v, at(2), 2);
  if (present > 3) v = _mm512_maskz_inserti32x4(kAllLanes, v, at(3), 3);
  return v;
}

// Up to 16 blocks (present of them) of Cols weight rows times Rows input rows, added to acc.
template <class Format, int Rows, int Cols, bool Wide>
[[gnu::always_inline]] inline void quad_group(const int8_t* codes, const float* scales, int64_t codes_stride,
                                              const uint8_t* blocks, int64_t row_bytes, int present,
                                              __m512 (&acc)[Rows][Cols][1]) {
  const int64_t plane = Wide ? codes_stride / 2 : 0, scales_stride = (codes_stride - plane) / 16;
  const __m512i nibble = _mm512_set1_epi8(0x0F);
  // Block sums: the first quad of a pair of quads, then the pair folded (quads 0-1, then 2-3): per
  // 128-bit lane [a0 + a2, b0 + b2, a1 + a3, b1 + b3].
  __m512i first[Rows][Cols], folded[2][Rows][Cols];
  auto fold = [](__m512i a, __m512i b) {
    return _mm512_add_epi32(_mm512_maskz_unpacklo_epi32(kAllLanes, a, b), _mm512_maskz_unpackhi_epi32(kAllLanes, a, b));
  };
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const int in_quad = present - 4 * q >= 4 ? 4 : present - 4 * q;
    if (in_quad <= 0) {  // past a short group's last block: no products
#pragma GCC unroll 32
      for (int r = 0; r < Rows; ++r) {
#pragma GCC unroll 32
        for (int c = 0; c < Cols; ++c) {
          if (q % 2 == 0) {
            first[r][c] = _mm512_setzero_si512();
          } else {
            folded[q / 2][r][c] = fold(first[r][c], _mm512_setzero_si512());
          }
        }
      }
      continue;
    }
    __m512i low[Cols], high[Cols];
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) {
      const __m512i bytes = quad_bytes<Format>(blocks + c * row_bytes + 4 * q * Format::kBytes, in_quad);
      low[c] = _mm512_and_si512(bytes, nibble);
      high[c] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), nibble);
    }
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      // The quad's 128 codes as [values 0-15 of each block] and [values 16-31 of each block].
      const __mmask64 first_half = in_quad >= 2 ? ~0ull : in_quad == 1 ? 0xFFFFFFFFull : 0;
      const __mmask64 second_half = in_quad >= 4 ? ~0ull : in_quad == 3 ? 0xFFFFFFFFull : 0;
      auto split = [&](const int8_t* from, __m512i& values_low, __m512i& values_high) {
        const __m512i a = _mm512_maskz_loadu_epi8(first_half, from), b = _mm512_maskz_loadu_epi8(second_half, from + 64);
        values_low = _mm512_maskz_shuffle_i64x2(0xFF, a, b, _MM_SHUFFLE(2, 0, 2, 0));
        values_high = _mm512_maskz_shuffle_i64x2(0xFF, a, b, _MM_SHUFFLE(3, 1, 3, 1));
      };
      const int8_t* row_codes = codes + r * codes_stride + 128 * q;
      __m512i in_low, in_high, rest_low, rest_high;
      split(row_codes, in_low, in_high);
      if (Wide) split(row_codes + plane, rest_low, rest_high);
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c) {
        __m512i dots = _mm512_dpbusd_epi32(_mm512_setzero_si512(), low[c], in_low);
        dots = _mm512_dpbusd_epi32(dots, high[c], in_high);
        if (Wide) {  // exact: at most 8 x 15 x 127 x 257 a lane
          dots = _mm512_maskz_slli_epi32(kAllLanes, dots, 8);
          dots = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(dots, low[c], rest_low), high[c], rest_high);
        }
        if (q % 2 == 0) {
          first[r][c] = dots;
        } else {
          folded[q / 2][r][c] = fold(first[r][c], dots);
        }
      }
    }
  }
  const __m512i order = panel_lane_order();
  __m512 weight_scales[Cols], minimums[Cols];
#pragma GCC unroll 32
  for (int c = 0; c < Cols; ++c) {
    __m512i starts[4];
    quad_starts<Format>(blocks + c * row_bytes, present, starts);
    const __m512i headers = Format::headers(starts);
    weight_scales[c] = _mm512_maskz_cvtph_ps(kAllLanes, _mm512_maskz_cvtepi32_epi16(kAllLanes, headers));
    if (Format::kMinimum) {
      minimums[c] = _mm512_maskz_cvtph_ps(
          kAllLanes, _mm512_maskz_cvtepi32_epi16(kAllLanes, _mm512_maskz_srli_epi32(kAllLanes, headers, 16)));
    }
  }
  const __m512i scale_index = _mm512_slli_epi32(order, 1), sum_index = _mm512_add_epi32(scale_index, _mm512_set1_epi32(1));
  const __mmask16 first_pairs = present >= 8 ? kAllLanes : tail_mask(2 * present);
  const __mmask16 second_pairs = present >= 16 ? kAllLanes : present <= 8 ? 0 : tail_mask(2 * (present - 8));
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
    const float* pairs = scales + r * scales_stride;
    const __m512 a = _mm512_maskz_loadu_ps(first_pairs, pairs), b = _mm512_maskz_loadu_ps(second_pairs, pairs + 16);
    const __m512 input_scales = _mm512_permutex2var_ps(a, scale_index, b);
    __m512 input_sums = _mm512_permutex2var_ps(a, sum_index, b);
    if (!Format::kMinimum) input_sums = _mm512_mul_ps(input_sums, _mm512_set1_ps(-8.0f));
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) {
      // per 128-bit lane j: [quad 0's block j, quad 1's, quad 2's, quad 3's]
      const __m512i sums = _mm512_add_epi32(_mm512_maskz_unpacklo_epi64(0xFF, folded[0][r][c], folded[1][r][c]),
                                            _mm512_maskz_unpackhi_epi64(0xFF, folded[0][r][c], folded[1][r][c]));
      const __m512 dots = _mm512_maskz_cvtepi32_ps(kAllLanes, sums);
      if (Format::kMinimum) {
        acc[r][c][0] = _mm512_fmadd_ps(_mm512_mul_ps(dots, input_scales), weight_scales[c], acc[r][c][0]);
        acc[r][c][0] = _mm512_fmadd_ps(input_sums, minimums[c], acc[r][c][0]);
      } else {
        acc[r][c][0] = _mm512_fmadd_ps(_mm512_fmadd_ps(dots, input_scales, input_sums), weight_scales[c], acc[r][c][0]);
      }
    }
  }
}

template <class Format, bool Wide, int Rows, int Cols>
void quad_tile_fixed(const int8_t* codes, const float* scales, int64_t codes_stride, const void* w, int64_t w_stride,
                     int64_t k, float* out, int64_t out_stride) {
  const auto* weights = static_cast<const uint8_t*>(w);
  const int64_t row_bytes = w_stride / 32 * Format::kBytes, blocks = k / 32;
  __m512 acc[Rows][Cols][1];
  zero_sums(acc);
  // As quantized_tile_fixed: the same bytes of the rows kPrefetchTiles tiles on, into L2, each cache
  // line of bytes [from, to) of those rows; the last group's step takes the rest of the rows too (the
  // blocks after it are not prefetched: missing them cost SmolLM2's rows of 576 a sixth of its decode).
  auto prefetch_ahead = [&](int64_t from, int64_t to) {
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) {
      const uint8_t* row = weights + (c + kPrefetchTiles * Cols) * row_bytes;
      const auto end = reinterpret_cast<uintptr_t>(row + to);
      for (auto line = reinterpret_cast<uintptr_t>(row + from) & ~uintptr_t{63}; line < end; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(line), _MM_HINT_T1);
    }
  };
  if (blocks < 16) prefetch_ahead(0, row_bytes);
  int64_t b = 0;
  for (; b + 16 <= blocks; b += 16) {
    prefetch_ahead(b * Format::kBytes, b + 32 <= blocks ? (b + 16) * Format::kBytes : row_bytes);
    quad_group<Format, Rows, Cols, Wide>(codes + b * 32, scales + b * 2, codes_stride, weights + b * Format::kBytes,
                                         row_bytes, 16, acc);
  }
  // The last few blocks (SmolLM2's rows of 576 end in 2) cost less as pairs than as a group.
  if (blocks - b >= 8) {
    quad_group<Format, Rows, Cols, Wide>(codes + b * 32, scales + b * 2, codes_stride, weights + b * Format::kBytes,
                                         row_bytes, static_cast<int>(blocks - b), acc);
    b = blocks;
  }
  pair_steps<typename Format::Pair, Rows, Cols, Wide, false>(codes, scales, codes_stride, weights, row_bytes, b, blocks,
                                                             acc);
  store_tile_sums(acc, out, out_stride);
}

template <class Format, bool Wide>
void quad_tile(const int8_t* codes, const float* scales, int64_t codes_stride, int rows, const void* w,
               int64_t w_stride, int cols, int64_t k, float* out, int64_t out_stride) {
  with_shape(rows, cols, []<int Rows, int Cols>(auto... args) { quad_tile_fixed<Format, Wide, Rows, Cols>(args...); },
             codes, scales, codes_stride, w, w_stride, k, out, out_stride);
}

// simd.h's quantized_gemm for a fixed number of rows: Rows x 2 registers of int32 sums over a block
// (each broadcast group of 4 input codes multiplies 4 bytes of each of 32 columns) and as many of f32
// sums over the blocks, to which each block's sums are added with their scales: (weight scale x input
// scale) x sum + weight offset x input sum. Wide (16-bit inputs, simd.h): the high plane's products
// first, the int32 sums shifted left by 8, then the low plane's products added to the same sums
// (exact: at most 32 x 255 x 127 x 257 a lane), so that both planes need only Rows x 2 registers.
template <int Rows, bool Wide>
void quantized_gemm_fixed(const int8_t* codes, const float* scales, int64_t codes_stride, const uint8_t* panel,
                          int64_t blocks, float* y, int64_t y_stride, int cols) {
  const int64_t plane = Wide ? codes_stride / 2 : 0, scales_stride = (codes_stride - plane) / 16;
  constexpr int kPlanes = Wide ? 2 : 1;
  __m512 sums[Rows][2];
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) sums[r][0] = sums[r][1] = _mm512_setzero_ps();
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* block = panel + b * kQuantizedPanelBlockBytes;
    __m512i dots[Rows][2];
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) dots[r][0] = dots[r][1] = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int p = 0; p < kPlanes; ++p) {
      if (p == 1) {
#pragma GCC unroll 32
        for (int r = 0; r < Rows; ++r) {
          dots[r][0] = _mm512_maskz_slli_epi32(kAllLanes, dots[r][0], 8);
          dots[r][1] = _mm512_maskz_slli_epi32(kAllLanes, dots[r][1], 8);
        }
      }
#pragma GCC unroll 8
      for (int step = 0; step < 8; ++step) {
        const __m512i low = _mm512_loadu_si512(block + step * 128), high = _mm512_loadu_si512(block + step * 128 + 64);
#pragma GCC unroll 32
        for (int r = 0; r < Rows; ++r) {
          int32_t group;
          __builtin_memcpy(&group, codes + r * codes_stride + p * plane + b * 32 + step * 4, 4);
          const __m512i inputs = _mm512_set1_epi32(group);
          dots[r][0] = _mm512_dpbusd_epi32(dots[r][0], low, inputs);
          dots[r][1] = _mm512_dpbusd_epi32(dots[r][1], high, inputs);
        }
      }
    }
    const float* factors = reinterpret_cast<const float*>(block + 8 * 128);
    const __m512 weight_scales[2] = {_mm512_loadu_ps(factors), _mm512_loadu_ps(factors + 16)};
    const __m512 offsets[2] = {_mm512_loadu_ps(factors + 32), _mm512_loadu_ps(factors + 48)};
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      const __m512 input_scale = _mm512_set1_ps(scales[r * scales_stride + 2 * b]);
      const __m512 input_sum = _mm512_set1_ps(scales[r * scales_stride + 2 * b + 1]);
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const __m512 scaled = _mm512_mul_ps(weight_scales[h], input_scale);
        sums[r][h] = _mm512_fmadd_ps(_mm512_maskz_cvtepi32_ps(kAllLanes, dots[r][h]), scaled, sums[r][h]);
        sums[r][h] = _mm512_fmadd_ps(offsets[h], input_sum, sums[r][h]);
      }
    }
  }
  const __m512i order = panel_lane_order();
#pragma GCC unroll 32
  for (int r = 0; r < Rows; ++r) {
    sums[r][0] = _mm512_maskz_permutexvar_ps(kAllLanes, order, sums[r][0]);
    sums[r][1] = _mm512_maskz_permutexvar_ps(kAllLanes, order, sums[r][1]);
  }
  store_gemm_tile(sums, y, y_stride, cols, false);
}

template <bool Wide>
void quantized_gemm(const int8_t* codes, const float* scales, int64_t codes_stride, int rows, const uint8_t* panel,
                    int64_t blocks, float* y, int64_t y_stride, int cols) {
  switch (rows) {
    case 1: return quantized_gemm_fixed<1, Wide>(codes, scales, codes_stride, panel, blocks, y, y_stride, cols);
    case 2: return quantized_gemm_fixed<2, Wide>(codes, scales, codes_stride, panel, blocks, y, y_stride, cols);
    case 3: return quantized_gemm_fixed<3, Wide>(codes, scales, codes_stride, panel, blocks, y, y_stride, cols);
    default: return quantized_gemm_fixed<4, Wide>(codes, scales, codes_stride, panel, blocks, y, y_stride, cols);
  }
}

// Four columns' 16 bytes (from + c x row_bytes, zeros past `cols`) in the four 128-bit lanes of a
// register, then the four such registers of 16 columns transposed by 32-bit groups: register t holds
// group t of every column (in panel_lane_order). Masked inserts: see the top of the file.
void load_transposed_groups(const uint8_t* from, int64_t row_bytes, int first_col, int cols, __m512i (&groups)[4]) {
  auto column = [&](int c) {
    return first_col + c < cols ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + c * row_bytes))
                                : _mm_setzero_si128();
  };
  __m512i four[4];
#pragma GCC unroll 4
  for (int k = 0; k < 4; ++k) {
    __m512i v = _mm512_zextsi128_si512(column(4 * k));
    v = _mm512_maskz_inserti32x4(kAllLanes, v, column(4 * k + 1), 1);
    v = _mm512_maskz_inserti32x4(kAllLanes, v, column(4 * k + 2), 2);
    four[k] = _mm512_maskz_inserti32x4(kAllLanes, v, column(4 * k + 3), 3);
  }
  const __m512i low01 = _mm512_maskz_unpacklo_epi32(kAllLanes, four[0], four[1]),
                high01 = _mm512_maskz_unpackhi_epi32(kAllLanes, four[0], four[1]);
  const __m512i low23 = _mm512_maskz_unpacklo_epi32(kAllLanes, four[2], four[3]),
                high23 = _mm512_maskz_unpackhi_epi32(kAllLanes, four[2], four[3]);
  groups[0] = _mm512_maskz_unpacklo_epi64(0xFF, low01, low23);
  groups[1] = _mm512_maskz_unpackhi_epi64(0xFF, low01, low23);
  groups[2] = _mm512_maskz_unpacklo_epi64(0xFF, high01, high23);
  groups[3] = _mm512_maskz_unpackhi_epi64(0xFF, high01, high23);
}

// simd.h's pack_quantized_panel, each half's columns in panel_lane_order. A 4-bit block's byte j holds values j
// (low nibble) and j + 16 (high), so its 32-bit group t holds steps t and t + 4: one transpose of the
// 16 packed bytes, then a mask and a shift. q8_0's 32 bytes are steps 0-3 and 4-7, made unsigned (+128).
void pack_quantized_panel(const uint8_t* w, int64_t row_bytes, int format, int64_t blocks, int cols, uint8_t* panel) {
  constexpr int64_t kBlockBytes[kQuantizedFormats] = {34, 20, 18};
  constexpr int64_t kValuesOffset[kQuantizedFormats] = {2, 4, 2};
  constexpr int64_t kPrefetchBytes = 512;
  const int64_t block_bytes = kBlockBytes[format];
  const __m512i low_mask = _mm512_set1_epi8(0x0F), sign_bit = _mm512_set1_epi8(static_cast<char>(0x80));
  // Each lane's column within its half, its byte offset (15 rows of a 4-bit or 8-bit block row fit
  // 32 bits for any real width) and whether the column exists.
  const __m512i lane_columns = panel_lane_order();
  const __m512i header_offsets = _mm512_mullo_epi32(lane_columns, _mm512_set1_epi32(static_cast<int32_t>(row_bytes)));
  const __mmask16 present[2] = {
      _mm512_cmplt_epi32_mask(lane_columns, _mm512_set1_epi32(cols)),
      _mm512_cmplt_epi32_mask(_mm512_add_epi32(lane_columns, _mm512_set1_epi32(16)), _mm512_set1_epi32(cols))};
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* out = panel + b * kQuantizedPanelBlockBytes;
    const uint8_t* values = w + b * block_bytes + kValuesOffset[format];
    // The 32 columns are 32 streams, more than the hardware prefetcher follows: each asks for its
    // bytes a few blocks ahead, so that their loads below find them in L2.
    for (int c = 0; c < cols; ++c)
      _mm_prefetch(reinterpret_cast<const char*>(values + c * row_bytes + kPrefetchBytes), _MM_HINT_T1);
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const uint8_t* from = values + half * 16 * row_bytes;
      uint8_t* to = out + half * 64;
      __m512i groups[4];
      load_transposed_groups(from, row_bytes, half * 16, cols, groups);
      if (format == 0) {
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) _mm512_storeu_si512(to + t * 128, _mm512_xor_si512(groups[t], sign_bit));
        load_transposed_groups(from + 16, row_bytes, half * 16, cols, groups);
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) _mm512_storeu_si512(to + (t + 4) * 128, _mm512_xor_si512(groups[t], sign_bit));
      } else {
#pragma GCC unroll 4
        for (int t = 0; t < 4; ++t) {
          _mm512_storeu_si512(to + t * 128, _mm512_and_si512(groups[t], low_mask));
          _mm512_storeu_si512(to + (t + 4) * 128, _mm512_and_si512(_mm512_srli_epi16(groups[t], 4), low_mask));
        }
      }
    }
    // Each lane's scale (and q4_1's minimum, the next 16 bits) gathered from its column's block.
    float* factors = reinterpret_cast<float*>(out + 8 * kQuantizedPanel * 4);
#pragma GCC unroll 2
    for (int half = 0; half < 2; ++half) {
      const __m512i headers = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), present[half], header_offsets,
                                                          w + (half * 16 * row_bytes + b * block_bytes), 1);
      const __m512 scales = _mm512_maskz_cvtph_ps(kAllLanes, _mm512_maskz_cvtepi32_epi16(kAllLanes, headers));
      const __m512 offsets =
          format == 1
              ? _mm512_maskz_cvtph_ps(
                    kAllLanes, _mm512_maskz_cvtepi32_epi16(kAllLanes, _mm512_maskz_srli_epi32(kAllLanes, headers, 16)))
              : _mm512_mul_ps(scales, _mm512_set1_ps(format == 2 ? -8.0f : -128.0f));
      _mm512_storeu_ps(factors + half * 16, scales);
      _mm512_storeu_ps(factors + kQuantizedPanel + half * 16, offsets);
    }
  }
}

// The sum of the 16 int32 lanes of v.
int32_t sum_int_lanes(__m512i v) {
  const __m256i eight = _mm256_add_epi32(_mm512_maskz_extracti64x4_epi64(0xF, v, 0),
                                         _mm512_maskz_extracti64x4_epi64(0xF, v, 1));
  __m128i four = _mm_add_epi32(_mm256_castsi256_si128(eight), _mm256_extracti128_si256(eight, 1));
  four = _mm_add_epi32(four, _mm_shuffle_epi32(four, _MM_SHUFFLE(1, 0, 3, 2)));
  four = _mm_add_epi32(four, _mm_shuffle_epi32(four, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(four);
}

// simd.h's quantize_inputs (Wide false) and quantize_inputs_wide, a block of 32 per step. The product
// t = x * (127 / largest) is rounded on its own (a separate multiply, then vrndscaleps to nearest
// even), never fused with anything, so each code is exactly the one the scalar rule gives; t - hi is
// exact (t is within half of hi), and so is its product by 256.
template <bool Wide>
void quantize_blocks(const float* x, int64_t k, int8_t* codes, int8_t* low_codes, float* scales) {
  const __m512 magnitude_bits = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  auto round = [](__m512 v) { return _mm512_maskz_roundscale_ps(kAllLanes, v, kNearest); };
  auto store_codes = [](int8_t* to, __m512i values) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(to), _mm512_maskz_cvtepi32_epi8(kAllLanes, values));
  };
  for (int64_t b = 0; b < k / 32; ++b) {
    const __m512 first = _mm512_loadu_ps(x + b * 32), second = _mm512_loadu_ps(x + b * 32 + 16);
    const float largest = largest_lane(
        _mm512_maskz_max_ps(kAllLanes, _mm512_and_ps(first, magnitude_bits), _mm512_and_ps(second, magnitude_bits)));
    const __m512 inverse = _mm512_set1_ps(largest > 0.0f ? 127.0f / largest : 0.0f);
    const __m512 t_first = _mm512_mul_ps(first, inverse), t_second = _mm512_mul_ps(second, inverse);
    const __m512 high_first = round(t_first), high_second = round(t_second);
    const __m512i codes_first = _mm512_maskz_cvtps_epi32(kAllLanes, high_first);
    const __m512i codes_second = _mm512_maskz_cvtps_epi32(kAllLanes, high_second);
    store_codes(codes + b * 32, codes_first);
    store_codes(codes + b * 32 + 16, codes_second);
    float scale = largest / 127.0f;
    int32_t sum = sum_int_lanes(_mm512_add_epi32(codes_first, codes_second));
    if (Wide) {
      const __m512 factor = _mm512_set1_ps(256.0f), bound = _mm512_set1_ps(127.0f), neg = _mm512_set1_ps(-127.0f);
      auto residual = [&](__m512 t, __m512 h) {
        const __m512 r = round(_mm512_mul_ps(_mm512_sub_ps(t, h), factor));
        return _mm512_maskz_cvtps_epi32(
            kAllLanes, _mm512_maskz_min_ps(kAllLanes, _mm512_maskz_max_ps(kAllLanes, r, neg), bound));
      };
      const __m512i rest_first = residual(t_first, high_first), rest_second = residual(t_second, high_second);
      store_codes(low_codes + b * 32, rest_first);
      store_codes(low_codes + b * 32 + 16, rest_second);
      sum = sum * 256 + sum_int_lanes(_mm512_add_epi32(rest_first, rest_second));
      scale /= 256.0f;
    }
    scales[2 * b] = scale;
    scales[2 * b + 1] = scale * static_cast<float>(sum);
  }
}

void quantize_inputs(const float* x, int64_t k, int8_t* codes, float* scales) {
  quantize_blocks<false>(x, k, codes, nullptr, scales);
}

void quantize_inputs_wide(const float* x, int64_t k, int8_t* codes, int8_t* low_codes, float* scales) {
  quantize_blocks<true>(x, k, codes, low_codes, scales);
}

// bf16 weights times bf16-rounded inputs: vdpbf16ps adds the products of 16 pairs of bf16 values to
// 16 f32 sums, so 32 values of a row go in one instruction, neither side widened first. The inputs'
// rows are padded with zeros to whole registers; the weights' last register is a masked load.
template <int Rows, int Cols>
void bf16_tile_fixed(const uint16_t* x, int64_t x_stride, const void* w, int64_t w_stride, int64_t k, float* out,
                     int64_t out_stride) {
  constexpr int kParts = Rows * Cols <= 8 ? 2 : 1;  // independent sums enough to hide the latency
  const auto* weights = static_cast<const uint16_t*>(w);
  __m512 acc[Rows][Cols][kParts];
  zero_sums(acc);
  auto step = [&](int64_t i, __mmask32 mask, int part) {
    __m512i w_pairs[Cols];
#pragma GCC unroll 32
    for (int c = 0; c < Cols; ++c) w_pairs[c] = _mm512_maskz_loadu_epi16(mask, weights + c * w_stride + i);
#pragma GCC unroll 32
    for (int r = 0; r < Rows; ++r) {
      const __m512bh inputs = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x + r * x_stride + i));
#pragma GCC unroll 32
      for (int c = 0; c < Cols; ++c)
        acc[r][c][part] = _mm512_dpbf16_ps(acc[r][c][part], inputs, reinterpret_cast<__m512bh>(w_pairs[c]));
    }
  };
  int64_t i = 0;
  int part = 0;
  for (; i + 32 <= k; i += 32, part = (part + 1) % kParts) step(i, ~__mmask32{0}, part);
  if (i < k) step(i, static_cast<__mmask32>((uint64_t{1} << (k - i)) - 1), 0);
  store_tile_sums(acc, out, out_stride);
}

void bf16_tile(const uint16_t* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
               float* out, int64_t out_stride) {
  with_shape(rows, cols, []<int Rows, int Cols>(auto... args) { bf16_tile_fixed<Rows, Cols>(args...); }, x, x_stride,
             w, w_stride, k, out, out_stride);
}

// Adds the count weighted value rows into Regs registers of each of Rows query rows of y, at offset
// i, each value row read once, along contiguous memory, for all Rows rows. Rows x Regs sums (16 at
// most), Regs values and a weight fit the 32 registers, and are independent chains enough to hide the
// FMA latency. The loops are fully unrolled, so that the sums live in registers only: left rolled,
// the compiler stores every sum back to the stack on every value row, and the stores, not the FMAs,
// set the speed (twice as slow, measured).
template <int Rows, int Regs>
void weighted_sum_rows_block(const float* a, int64_t a_stride, int64_t count, const float* x, int64_t x_stride,
                             float* y, int64_t y_stride) {
  __m512 sums[Rows * Regs];
#pragma GCC unroll 16
  for (int s = 0; s < Rows * Regs; ++s) sums[s] = _mm512_loadu_ps(y + (s / Regs) * y_stride + (s % Regs) * kWidth);
  for (int64_t j = 0; j < count; ++j) {
    const float* row = x + j * x_stride;
    __m512 values[Regs];
#pragma GCC unroll 16
    for (int b = 0; b < Regs; ++b) values[b] = _mm512_loadu_ps(row + b * kWidth);
#pragma GCC unroll 16
    for (int r = 0; r < Rows; ++r) {
      const __m512 factor = _mm512_set1_ps(a[r * a_stride + j]);
#pragma GCC unroll 16
      for (int b = 0; b < Regs; ++b) sums[r * Regs + b] = _mm512_fmadd_ps(factor, values[b], sums[r * Regs + b]);
    }
  }
#pragma GCC unroll 16
  for (int s = 0; s < Rows * Regs; ++s) _mm512_storeu_ps(y + (s / Regs) * y_stride + (s % Regs) * kWidth, sums[s]);
}

// The last, partial register of Rows rows, masked.
template <int Rows>
void weighted_sum_rows_tail(const float* a, int64_t a_stride, int64_t count, const float* x, int64_t x_stride,
                            float* y, int64_t y_stride, __mmask16 mask) {
  for (int r = 0; r < Rows; ++r) {
    __m512 sum = _mm512_maskz_loadu_ps(mask, y + r * y_stride);
    for (int64_t j = 0; j < count; ++j)
      sum = _mm512_fmadd_ps(_mm512_set1_ps(a[r * a_stride + j]), _mm512_maskz_loadu_ps(mask, x + j * x_stride), sum);
    _mm512_mask_storeu_ps(y + r * y_stride, mask, sum);
  }
}

template <int Rows>
void weighted_sum_rows(const float* a, int64_t a_stride, int64_t count, const float* x, int64_t x_stride, float* y,
                       int64_t y_stride, int64_t n) {
  int64_t i = 0;
  // One or two rows take blocks of 8 registers (a head of 128 at once), so that a lone row still has
  // 8 independent chains; more rows take 4 each.
  if constexpr (Rows <= 2) {
    for (; i + 8 * kWidth <= n; i += 8 * kWidth)
      weighted_sum_rows_block<Rows, 8>(a, a_stride, count, x + i, x_stride, y + i, y_stride);
  }
  for (; i + 4 * kWidth <= n; i += 4 * kWidth)
    weighted_sum_rows_block<Rows, 4>(a, a_stride, count, x + i, x_stride, y + i, y_stride);
  for (; i + kWidth <= n; i += kWidth)
    weighted_sum_rows_block<Rows, 1>(a, a_stride, count, x + i, x_stride, y + i, y_stride);
  if (i < n) weighted_sum_rows_tail<Rows>(a, a_stride, count, x + i, x_stride, y + i, y_stride, tail_mask(n - i));
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
  for (int64_t i = 0; i < n; i += kWidth) {
    const __mmask16 mask = n - i >= kWidth ? kAllLanes : tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, mask, LoadBf16::masked(x, i, mask));
  }
}

void widen_q8_0(const void* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; i += 32) {
    __m512 low, high;
    DecodeQ8_0::decode(static_cast<const uint8_t*>(x) + i / 32 * DecodeQ8_0::kBytes, low, high);
    _mm512_storeu_ps(y + i, low);
    _mm512_storeu_ps(y + i + 16, high);
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

// exp(x) as 2^n * exp(r) with n = round(x / ln 2) and |r| <= ln(2) / 2: r is x - n ln 2 with ln 2 split
// in two so that n ln 2 is exact to f32 precision, exp(r) is Cephes' degree-7 polynomial (under
// 2 ulp on that range), and scalef applies 2^n, underflowing gradually to zero for very negative x.
__m512 exp_ps(__m512 x) {
  // Past these bounds expf is 0 or inf anyway; clamping keeps n small enough for scalef.
  x = _mm512_maskz_min_ps(kAllLanes, _mm512_maskz_max_ps(kAllLanes, x, _mm512_set1_ps(-104.0f)),
                          _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_maskz_roundscale_ps(kAllLanes, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_maskz_scalef_ps(kAllLanes, p, n);
}

float exp_shifted(const float* x, int64_t n, float shift, float* y) {
  const __m512 offset = _mm512_set1_ps(shift);
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += kWidth) {
    const __mmask16 mask = n - i >= kWidth ? kAllLanes : tail_mask(n - i);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i), offset));
    _mm512_mask_storeu_ps(y + i, mask, e);
    sum = _mm512_mask_add_ps(sum, mask, sum, e);
  }
  const __m256 half = fold_halves(sum);
  __m128 quarter = _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
  quarter = _mm_add_ps(quarter, _mm_movehl_ps(quarter, quarter));
  return _mm_cvtss_f32(_mm_add_ss(quarter, _mm_movehdup_ps(quarter)));
}

float max(const float* x, int64_t n) {
  const __m512 lowest = _mm512_set1_ps(-__builtin_inff());
  __m512 best = lowest;
  for (int64_t i = 0; i < n; i += kWidth) {
    const __mmask16 mask = n - i >= kWidth ? kAllLanes : tail_mask(n - i);
    best = _mm512_maskz_max_ps(kAllLanes, best, _mm512_mask_loadu_ps(lowest, mask, x + i));
  }
  return largest_lane(best);
}

}  // namespace

const Kernels& avx512_kernels() {
  static const Kernels table{"avx512", {dot_tile<LoadF32>, dot_tile<LoadF16>, dot_tile<LoadBf16>, dot_tile<LoadI8>,
                                        block_tile<DecodeQ8_0>, block_tile<DecodeQ4_1>, block_tile<DecodeQ4_0>},
                             {quantized_tile<PairQ8_0, false>, quad_tile<QuadQ4_1, false>, quad_tile<QuadQ4_0, false>},
                             quantize_inputs,
                             quantize_inputs_wide,
                             {quantized_tile<PairQ8_0, true>, quad_tile<QuadQ4_1, true>, quad_tile<QuadQ4_0, true>},
                             {quantized_gemm<false>, quantized_gemm<true>},
                             pack_quantized_panel,
                             bf16_tile,
                             gemm_f32,
                             weighted_sum,
                             widen_bf16,
                             widen_q8_0,
                             scale,
                             exp_shifted,
                             max};
  return table;
}

}  // namespace shardlm::cpu::simd
