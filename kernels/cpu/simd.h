// Private to kernels/cpu: the few inner loops that decide CPU kernel speed, implemented once per
// instruction set (simd_generic.cpp, simd_avx2.cpp, simd_avx512.cpp) and picked at run time by
// simd_dispatch.cpp. The ops in kernels/cpu/*.cpp call them through the active table, so one binary
// runs at full speed on an AVX-512 machine and still runs on a plain x86-64 one.
//
// This header declares only plain data and functions, no inline code: the ISA-specific files include
// it, and an inline function instantiated there would be compiled with AVX-512 flags and could be the
// copy the linker keeps for every caller.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace shardlm::cpu::simd {

// out[r * out_stride + c] = sum_i x[r * x_stride + i] * w[c * w_stride + i] for r < rows and c < cols
// (1 <= rows <= kMaxTileRows, 1 <= cols <= kMaxTileCols): a tile of dot products of length k, with w in
// the table slot's dtype and strides in elements. Each weight load serves every input row and each
// input load every weight row, and the rows x cols independent sums keep the FMA units busy, where a
// single dot product would wait on the latency of its one chain of additions.
using DotTileFn = void (*)(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols,
                           int64_t k, float* out, int64_t out_stride);
inline constexpr int kMaxTileRows = 4;
inline constexpr int kMaxTileCols = 4;
// The blocked GEMM's tile: kGemmRows input rows by a panel of kGemmPanel output columns.
inline constexpr int kGemmRows = 8;
inline constexpr int kGemmPanel = 32;

// Input rows quantized for integer dot products with q8_0 / q4_1 / q4_0 weights (as llama.cpp's q8 dot
// products): each block of 32 inputs becomes 32 int8 codes and a scale (largest magnitude / 127), so
// input i is about codes[i] x scale. A row's codes are padded with zeros to a whole number of pairs of
// blocks (64), and its scales come four floats per pair: [scale b, sum b, scale b+1, sum b+1], where
// sum is scale x (sum of the block's codes), the block's inputs as the codes represent them.
inline constexpr int64_t kInputPair = 64;
// out[r * out_stride + c] = the dot product of input row r (codes + r * codes_stride, scales + r *
// codes_stride / 16) with weight row c (w + c * w_stride elements of the dtype), for k inputs (a
// multiple of 32); rows and cols as for DotTileFn.
using QuantizedDotTileFn = void (*)(const int8_t* codes, const float* scales, int64_t codes_stride, int rows,
                                    const void* w, int64_t w_stride, int cols, int64_t k, float* out,
                                    int64_t out_stride);

// The same inputs kept to 16 bits, for products of a few rows, where the weights' bytes rather than
// the arithmetic set the pace (ref::matmul_wide_quantized_inputs states the rule): each input is
// (hi x 256 + lo) units of scale / 256, hi and lo int8 codes. A row holds its hi codes (padded as
// above) and then its lo codes, so codes_stride is twice the padded length; its [scale, sum] pairs
// (scale / 256 and the sum of the 16-bit values times it) come codes_stride / 32 floats apart. The
// tile multiplies the weight bytes by hi, shifts the sums left by 8 and adds the bytes times lo: a
// 16-bit product for one more vpdpbusd and a shift, with the weights decoded once for both.
inline constexpr int kWideInputPlanes = 2;

// The panel product of quantized weights (quantized_gemm.cpp): a panel holds kQuantizedPanel weight
// rows (output columns), decoded to unsigned bytes and laid out for vpdpbusd with broadcast inputs.
// For each block of 32 inputs: 8 steps of [kQuantizedPanel columns][4 consecutive inputs] bytes
// (1 KiB), then kQuantizedPanel weight scales and kQuantizedPanel offsets (f32): the column's value
// is scale x byte + offset (q4_1: its minimum; q4_0: -8 x its scale; q8_0: -128 x its scale, the
// bytes being int8 + 128).
inline constexpr int kQuantizedPanel = 32;
inline constexpr int kQuantizedGemmRows = 4;
inline constexpr int64_t kQuantizedPanelBlockBytes = 8 * kQuantizedPanel * 4 + 2 * kQuantizedPanel * 4;
// The block formats with integer products: q8_0, q4_1, q4_0 (index = DType value - 4).
inline constexpr int kQuantizedFormats = 3;

struct Kernels {
  const char* name;  // "generic", "avx2" or "avx512"
  // Indexed by static_cast<int>(DType): f32, f16, bf16, i8, q8_0, q4_1, q4_0 (simd_dispatch.cpp checks
  // that order). The i8 tile sums unscaled bytes times inputs; the caller applies the row scales. The block
  // formats decode each block with its own scale, and need k and w_stride to be multiples of 32.
  DotTileFn dot_tile[7];
  // For q8_0, q4_1 and q4_0 weights (in that order, kQuantizedFormats): the product with quantized
  // inputs, where the level has an integer dot product that beats decoding blocks to f32 (AVX-512
  // VNNI); null where it has not.
  QuantizedDotTileFn quantized_dot_tile[kQuantizedFormats];
  // Where quantized_dot_tile is set: one input row of k values (a multiple of 32) quantized as above,
  // codes[i] for i < k and, for block b, scales[2b] = its scale and scales[2b + 1] = its sum. Each
  // code is x / scale rounded half to even (kernels/ref's matmul_quantized_inputs states the rule).
  void (*quantize_inputs)(const float* x, int64_t k, int8_t* codes, float* scales);
  // The same for 16-bit inputs, where quantized_dot_tile is set: codes[i] = hi and low_codes[i] = lo,
  // scales[2b] = the block's scale / 256 and scales[2b + 1] = that times the sum of hi x 256 + lo.
  void (*quantize_inputs_wide)(const float* x, int64_t k, int8_t* codes, int8_t* low_codes, float* scales);
  // quantized_dot_tile over 16-bit inputs in the layout above (q8_0, q4_1, q4_0).
  QuantizedDotTileFn wide_quantized_dot_tile[kQuantizedFormats];
  // Where quantized_dot_tile is set: y[r * y_stride + c] = the product of input row r (codes + r *
  // codes_stride, its [scale, sum] pairs at scales + r * codes_stride / 16, as quantize_inputs lays
  // them out) with panel column c, over `blocks` blocks of 32, for r < rows (1..kQuantizedGemmRows)
  // and c < cols (1..kQuantizedPanel); [1]: the same for 16-bit inputs (the wide layout). Null elsewhere.
  void (*quantized_gemm[2])(const int8_t* codes, const float* scales, int64_t codes_stride, int rows,
                            const uint8_t* panel, int64_t blocks, float* y, int64_t y_stride, int cols);
  // Packs weight rows w + c * row_bytes for c < cols (1..kQuantizedPanel; the rest are zeros), `blocks`
  // blocks of the format (0: q8_0, 1: q4_1, 2: q4_0), into a panel of the layout above. Null where
  // quantized_gemm is.
  void (*pack_quantized_panel)(const uint8_t* w, int64_t row_bytes, int format, int64_t blocks, int cols,
                               uint8_t* panel);
  // For bf16 weights: the product with input rows rounded to bf16 (x, rows padded with zeros to a
  // multiple of 32 elements, x_stride apart), where the level has a bf16 dot product (AVX512-BF16's
  // vdpbf16ps: 32 multiply-adds an instruction, with no widening of the weights); null elsewhere.
  void (*bf16_dot_tile)(const uint16_t* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols,
                        int64_t k, float* out, int64_t out_stride);
  // Prefill's blocked GEMM's micro-kernel (gemm.cpp), where the level has one; null elsewhere. A
  // packed panel holds kGemmPanel weight rows (output columns) side by side for `depth` inputs, as
  // [depth][kGemmPanel] floats. For r < rows (1 <= rows <= kGemmRows) and c < cols (1 <= cols <=
  // kGemmPanel): y[r * y_stride + c] (+ its old value if accumulate) = sum_{i < depth} x[r * x_stride
  // + i] * panel[i * kGemmPanel + c]. Each input, broadcast, multiplies a whole row of the panel, and
  // the rows x panel sums stay in registers over the depth.
  void (*gemm_f32)(const float* x, int64_t x_stride, int rows, const float* panel, int64_t depth, float* y,
                   int64_t y_stride, int cols, bool accumulate);
  // y[r * y_stride + i] += sum_j a[r * a_stride + j] * x[j * x_stride + i] for r < rows (1 <= rows <=
  // kMaxTileRows), i < n, j < count: attention's weighted sums of value rows for several query rows.
  // Blocks of y stay in registers while all count value rows are added, and each value row, once
  // loaded, serves every query row: one query row alone would spend a load per multiply-add.
  void (*weighted_sum)(const float* a, int64_t a_stride, int rows, int64_t count, const float* x, int64_t x_stride,
                       float* y, int64_t y_stride, int64_t n);
  // y[i] = x[i] for i < n, x in bf16 (exact: a bf16 is the top half of an f32). Attention widens a
  // tile of a bf16 value cache once and then runs weighted_sum over it for every query row of its unit.
  void (*widen_bf16)(const uint16_t* x, int64_t n, float* y);
  // y[i] = value i of the q8_0 blocks at x (scale x byte) for i < n, n a multiple of 32: an int8 value
  // cache's tile, widened like a bf16 one.
  void (*widen_q8_0)(const void* x, int64_t n, float* y);
  void (*scale)(float a, float* y, int64_t n);  // y[i] *= a
  // y[i] = exp(x[i] - shift) for i < n, returning the sum of the y[i] (y may be x): attention's
  // softmax weights, where a libm call per score would cost more than the score's dot product.
  // Within 2 ulp of expf for results above FLT_MIN; results below it may be flushed to zero.
  float (*exp_shifted)(const float* x, int64_t n, float shift, float* y);
  float (*max)(const float* x, int64_t n);  // the largest x[i], n >= 1
};

// One table per instruction set; only call the AVX ones where supported_levels() lists them.
const Kernels& generic_kernels();
const Kernels& avx2_kernels();
const Kernels& avx512_kernels();

// The table every op uses: chosen on first use from the CPU and SHARDLM_SIMD.
const Kernels& active_kernels();

// Levels this CPU and OS can run, lowest first: "generic", then "avx2" and "avx512" where supported.
std::vector<std::string_view> supported_levels();

// The level to run given SHARDLM_SIMD's value: the best supported one when `requested` is null or
// empty, else `requested` itself. Throws shardlm::Error for an unknown name or one the CPU cannot run.
std::string_view choose_level(const char* requested);

// Switches every op to `level` (one of supported_levels()) so that tests can run each level on one
// machine. Not for use while kernels run on other threads.
void set_simd_level_for_testing(std::string_view level);

}  // namespace shardlm::cpu::simd
