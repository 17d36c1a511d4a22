// y = x w^T with w [n, k] in f32, f16, bf16, int8, q8_0, q4_1 or q4_0: threads split the output columns (weight rows),
// and the SIMD tile computes up to 4 x 4 outputs at once, so every weight loaded serves up to 4 input
// rows and every input loaded serves 4 weight rows. int8 weights are widened to f32 in registers and
// each finished dot product is multiplied by its row's scale: decode reads a quarter of f32's bytes.
// q8_0 / q4_1 blocks are decoded to f32 in registers, their scale (and minimum) applied per block; or,
// where the CPU has an integer dot product (AVX-512 VNNI), multiplied as integers by the inputs
// quantized per block of 32: half the instructions of decoding to f32. The inputs keep 16 bits (two
// int8 planes, two vpdpbusd on the same decoded weights); with SHARDLM_PREFILL_INPUTS=int8, products
// of more than kMaxWideInputRows rows take 8 bits, as llama.cpp's q8 products do. From
// kQuantizedGemmMinRows rows the block formats take the panel product (quantized_gemm.cpp).
// bf16 weights, where the CPU has AVX512-BF16, multiply inputs rounded to bf16 with vdpbf16ps.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/quantized_gemm.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
namespace {

// Input rows quantized for the integer tiles (simd.h): each row's codes padded with zeros to a whole
// number of pairs of blocks (two planes of them where `wide`), its [scale, sum] pairs likewise.
void quantize_inputs(ThreadPool& pool, const simd::Kernels& kernels, const float* x, int64_t m, int64_t k,
                     int64_t padded, bool wide, std::vector<int8_t>& codes, std::vector<float>& scales) {
  const int64_t stride = wide ? simd::kWideInputPlanes * padded : padded;
  codes.assign(m * stride, 0);
  scales.assign(m * padded / 16, 0.0f);
  int8_t* const all_codes = codes.data();
  float* const all_scales = scales.data();
  // A prefill's rows are many: they are shared out (a decode's one row is not worth a hand-off).
  pool.parallel_for(m, std::max<int64_t>(1, kMinCheapElementsPerThread / k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      int8_t* row = all_codes + r * stride;
      float* row_scales = all_scales + r * (padded / 16);
      if (wide) {
        kernels.quantize_inputs_wide(x + r * k, k, row, row + padded, row_scales);
      } else {
        kernels.quantize_inputs(x + r * k, k, row, row_scales);
      }
    }
  });
}

// Bytes of weights per block of columns: the block stays in L2 while every group of input rows passes
// over it, so for m > 1 the weights come from memory once rather than once per group.
constexpr int64_t kBlockBytes = 128 * 1024;

// SHARDLM_PREFILL_INPUTS's choice, read on first use; tests switch it.
std::atomic<int> g_prefill_input_bits{0};

}  // namespace

bool prefill_takes_8_bit_inputs() {
  int bits = g_prefill_input_bits.load(std::memory_order_relaxed);
  if (bits == 0) [[unlikely]] {
    const char* value = std::getenv("SHARDLM_PREFILL_INPUTS");
    const std::string_view name = value == nullptr ? "" : value;
    SHARDLM_CHECK(name.empty() || name == "int8" || name == "int16",
                  "SHARDLM_PREFILL_INPUTS='{}' is not int8 or int16", name);
    bits = name == "int8" ? 8 : 16;
    g_prefill_input_bits.store(bits, std::memory_order_relaxed);
  }
  return bits == 8;
}

void set_prefill_inputs_for_testing(bool eight_bits) {
  g_prefill_input_bits.store(eight_bits ? 8 : 16, std::memory_order_relaxed);
}

bool matmul_quantizes_inputs(DType w_dtype) {
  const simd::Kernels& kernels = simd::active_kernels();
  if (w_dtype == DType::bf16) return kernels.bf16_dot_tile != nullptr;
  return is_block_dtype(w_dtype) && kernels.quantized_dot_tile[quantized_format(w_dtype)] != nullptr;
}

void matmul(ThreadPool& pool, const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k,
            const float* row_scales) {
  SHARDLM_CHECK(m >= 0 && n >= 0 && k >= 0, "matmul: negative shape m={} n={} k={}", m, n, k);
  SHARDLM_CHECK(w_dtype != DType::i8 || row_scales != nullptr, "matmul: int8 weights need their row scales");
  SHARDLM_CHECK(!is_block_dtype(w_dtype) || k % kQuantBlock == 0, "matmul: {} weights need rows of whole blocks of {}, got k={}",
                dtype_name(w_dtype), kQuantBlock, k);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(y, y + m * n, 0.0f);
    return;
  }
  const simd::DotTileFn dot_tile = simd::active_kernels().dot_tile[static_cast<int>(w_dtype)];
  // Enough rows (a prefill) for packing the weights to pay: the blocked GEMM. bf16 weights multiply
  // inputs rounded to bf16 (and widened back to f32) where the level has a bf16 dot product, the
  // contract of its bf16 products; the rows are rounded on the pool, as they are many.
  const auto bf16_tile = w_dtype == DType::bf16 ? simd::active_kernels().bf16_dot_tile : nullptr;
  if (m >= kGemmMinRows && gemm_supported(simd::active_kernels(), w_dtype)) {
    thread_local std::vector<float> rounded;
    const float* inputs = x;
    if (bf16_tile != nullptr) {
      rounded.resize(m * k);
      float* const out = rounded.data();
      pool.parallel_for(m, std::max<int64_t>(1, 4096 / k), [&](int64_t begin, int64_t end) {
        thread_local std::vector<uint16_t> row;
        row.resize(k);
        for (int64_t r = begin; r < end; ++r) {
          convert_from_f32(x + r * k, row.data(), DType::bf16, k);
          simd::active_kernels().widen_bf16(row.data(), k, out + r * k);
        }
      });
      inputs = out;
    }
    gemm(pool, simd::active_kernels(), inputs, w, w_dtype, y, m, n, k);
    return;
  }
  // Block formats take the integer path where the SIMD level has one: inputs quantized once here.
  // Inputs keep 16 bits unless the product is large and 8-bit prefill inputs were asked for.
  const int format = is_block_dtype(w_dtype) ? quantized_format(w_dtype) : 0;
  const bool wide = m <= kMaxWideInputRows || !prefill_takes_8_bit_inputs();
  const simd::QuantizedDotTileFn quantized_tile =
      !is_block_dtype(w_dtype) ? nullptr
      : wide                   ? simd::active_kernels().wide_quantized_dot_tile[format]
                               : simd::active_kernels().quantized_dot_tile[format];
  const int64_t padded = (k + simd::kInputPair - 1) / simd::kInputPair * simd::kInputPair;
  const int64_t codes_stride = wide ? simd::kWideInputPlanes * padded : padded;
  thread_local std::vector<int8_t> codes;
  thread_local std::vector<float> code_scales;
  if (quantized_tile != nullptr) quantize_inputs(pool, simd::active_kernels(), x, m, k, padded, wide, codes, code_scales);
  // Enough rows (a prefill) for decoding each weight block once for all of them to pay: the panels.
  if (quantized_tile != nullptr && m >= kQuantizedGemmMinRows && quantized_gemm_supported(simd::active_kernels(), w_dtype)) {
    quantized_gemm(pool, simd::active_kernels(), codes.data(), code_scales.data(), padded, wide, w, w_dtype, y, m, n,
                   k);
    return;
  }
  // bf16 weights take the bf16 dot product where the level has one: inputs rounded to bf16 here.
  const int64_t bf16_stride = (k + 31) / 32 * 32;
  thread_local std::vector<uint16_t> bf16_inputs;
  if (bf16_tile != nullptr) {
    bf16_inputs.assign(m * bf16_stride, 0);
    for (int64_t r = 0; r < m; ++r) convert_from_f32(x + r * k, bf16_inputs.data() + r * bf16_stride, DType::bf16, k);
  }
  const uint16_t* const rounded_inputs = bf16_inputs.data();
  // Pointers, not the thread_local names, go into the workers: on a worker thread the names would be
  // that thread's own (empty) buffers.
  const int8_t* const input_codes = codes.data();
  const float* const input_scales = code_scales.data();
  constexpr int64_t kTileCols = simd::kMaxTileCols;
  const auto row_bytes = static_cast<int64_t>(dtype_bytes(w_dtype, k));
  // Threads split whole tiles of columns, so only the last tile of the matrix is ever partial.
  const int64_t column_tiles = (n + kTileCols - 1) / kTileCols;
  const int64_t block_tiles = std::max<int64_t>(1, kBlockBytes / (row_bytes * kTileCols));
  const int64_t min_tiles = std::max<int64_t>(1, kMinMacsPerThread / (m * k * kTileCols));
  const auto* weights = static_cast<const char*>(w);

  pool.parallel_for(column_tiles, min_tiles, [&](int64_t begin, int64_t end) {
    const int64_t first_col = begin * kTileCols, last_col = std::min(n, end * kTileCols);
    for (int64_t block = first_col; block < last_col; block += block_tiles * kTileCols) {
      const int64_t block_end = std::min(last_col, block + block_tiles * kTileCols);
      for (int64_t row = 0; row < m; row += simd::kMaxTileRows) {
        const int rows = static_cast<int>(std::min<int64_t>(simd::kMaxTileRows, m - row));
        for (int64_t col = block; col < block_end; col += kTileCols) {
          const int cols = static_cast<int>(std::min(kTileCols, block_end - col));
          if (bf16_tile != nullptr) {
            bf16_tile(rounded_inputs + row * bf16_stride, bf16_stride, rows, weights + col * row_bytes, k, cols, k,
                      y + row * n + col, n);
          } else if (quantized_tile != nullptr) {
            quantized_tile(input_codes + row * codes_stride, input_scales + row * (padded / 16), codes_stride, rows,
                           weights + col * row_bytes, k, cols, k, y + row * n + col, n);
          } else {
            dot_tile(x + row * k, k, rows, weights + col * row_bytes, k, cols, k, y + row * n + col, n);
          }
          if (w_dtype == DType::i8) {
            for (int r = 0; r < rows; ++r)
              for (int c = 0; c < cols; ++c) y[(row + r) * n + col + c] *= row_scales[col + c];
          }
        }
      }
    }
  });
}

}  // namespace shardlm::cpu
