// Prefill's product for q8_0 / q4_1 / q4_0 weights: the inputs quantized once (matmul.cpp), the
// weights decoded to bytes once per panel of 32 columns and reused by every input row, as the f32
// GEMM packs its panels (gemm.cpp). Each step of the micro-kernel broadcasts 4 input codes of a row
// and multiplies them with vpdpbusd by 4 bytes of each of the panel's 32 columns, so that a weight
// block is unpacked once for the whole prompt rather than once per 4 rows (the dot-product tiles).
// 16-bit inputs multiply the same panel by their low plane too.
// Loop order per thread: its panels > pack one (the whole depth: 1.25 KiB a block, 160 KiB for a
// 4,096-wide row, within L2) > 4 input rows at a time.
#include "kernels/cpu/quantized_gemm.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/work_split.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
namespace {

constexpr int64_t kPanel = simd::kQuantizedPanel;

}  // namespace

int quantized_format(DType w_dtype) {
  SHARDLM_CHECK(is_block_dtype(w_dtype), "{} is not a block format", dtype_name(w_dtype));
  return static_cast<int>(w_dtype) - static_cast<int>(DType::q8_0);
}

bool quantized_gemm_supported(const simd::Kernels& kernels, DType w_dtype) {
  return kernels.quantized_gemm[0] != nullptr && kernels.pack_quantized_panel != nullptr &&
         is_block_dtype(w_dtype);
}

void quantized_gemm(ThreadPool& pool, const simd::Kernels& kernels, const int8_t* codes, const float* scales,
                    int64_t padded, bool wide, const void* w, DType w_dtype, float* y, int64_t m, int64_t n,
                    int64_t k) {
  const int64_t codes_stride = wide ? simd::kWideInputPlanes * padded : padded;
  const auto micro_kernel = kernels.quantized_gemm[wide ? 1 : 0];
  const int64_t panels = (n + kPanel - 1) / kPanel, blocks = k / kQuantBlock;
  const auto row_bytes = static_cast<int64_t>(dtype_bytes(w_dtype, k));
  const int64_t min_panels = std::max<int64_t>(1, kMinMacsPerThread / (m * k * kPanel));
  const auto* weights = static_cast<const uint8_t*>(w);
  pool.parallel_for(panels, min_panels, [&](int64_t begin, int64_t end) {
    thread_local std::vector<uint8_t> storage;
    // Panels start on a cache line, so that no load of the micro-kernel splits one.
    storage.resize(blocks * simd::kQuantizedPanelBlockBytes + 64);
    uint8_t* const panel = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
    for (int64_t p = begin; p < end; ++p) {
      const int64_t col = p * kPanel, cols = std::min(kPanel, n - col);
      kernels.pack_quantized_panel(weights + col * row_bytes, row_bytes, quantized_format(w_dtype), blocks,
                                   static_cast<int>(cols), panel);
      for (int64_t row = 0; row < m; row += simd::kQuantizedGemmRows) {
        const int rows = static_cast<int>(std::min<int64_t>(simd::kQuantizedGemmRows, m - row));
        micro_kernel(codes + row * codes_stride, scales + row * (padded / 16), codes_stride, rows, panel, blocks,
                     y + row * n + col, n, static_cast<int>(cols));
      }
    }
  });
}

}  // namespace shardlm::cpu
