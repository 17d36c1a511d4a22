// Prefill's blocked GEMM (as in Goto and van de Geijn, "Anatomy of high-performance matrix
// multiplication", 2008): the weights are copied, a depth block at a time, into panels of 32 output
// columns laid out input by input, so that the micro-kernel (simd.h's gemm_f32) reads them with
// contiguous loads and multiplies each by broadcast inputs: 2 loads serve up to 16 FMAs, where the
// dot-product tiles need a load per FMA or two. Loop order, per thread and its columns: depth block
// (the inputs' slice stays in L2) > group of panels (packed once, kept in L2) > 8 input rows (in L1) >
// panel. Partial sums live in y between depth blocks.
//
// bf16 weights are widened to f32 as they are packed: on the machine this was tuned on, vdpbf16ps
// retires at half the rate of FMAs, so two bf16 products an instruction gain nothing over one f32
// product, and the f32 kernel is as fast (measured by bench/prefill_gemm.cpp).
#include "kernels/cpu/gemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/work_split.h"

namespace shardlm::cpu {
namespace {

constexpr int64_t kPanel = simd::kGemmPanel;
constexpr int64_t kRows = simd::kGemmRows;
// Inputs per depth block (at most; k is cut into equal blocks, so that no thin last block costs a
// pass over y of its own), and panels packed together: 8 panels of 32 columns x 768 inputs in f32
// are 768 KiB, which L2 holds.
constexpr int64_t kMaxDepthBlock = 768;
constexpr int64_t kPanelsPerGroup = 8;

float widen(float value) { return value; }
float widen(uint16_t bf16) {
  const uint32_t bits = static_cast<uint32_t>(bf16) << 16;
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

// The panel of columns [col, col + cols) and inputs [first, first + depth) of w [n, k], as
// [depth][kPanel] floats; missing columns are zeros.
// Input by input, so the panel is written in order and each of the 32 weight rows read in order:
// column by column, every write would land on another cache line.
template <class Weight>
void pack(const Weight* w, int64_t k, int64_t col, int64_t cols, int64_t first, int64_t depth, float* panel) {
  if (cols < kPanel) std::memset(panel, 0, sizeof(float) * kPanel * depth);
  const Weight* rows = w + col * k + first;
  for (int64_t i = 0; i < depth; ++i) {
    float* out = panel + i * kPanel;
    for (int64_t c = 0; c < cols; ++c) out[c] = widen(rows[c * k + i]);
  }
}

}  // namespace

bool gemm_supported(const simd::Kernels& kernels, DType w_dtype) {
  return kernels.gemm_f32 != nullptr && (w_dtype == DType::f32 || w_dtype == DType::bf16);
}

void gemm(ThreadPool& pool, const simd::Kernels& kernels, const float* x, const void* w, DType w_dtype, float* y,
          int64_t m, int64_t n, int64_t k) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  const int64_t min_panels = std::max<int64_t>(1, kMinMacsPerThread / (m * k * kPanel));
  const int64_t blocks = (k + kMaxDepthBlock - 1) / kMaxDepthBlock;
  const int64_t block_depth = (k + blocks - 1) / blocks;
  pool.parallel_for(panels, min_panels, [&](int64_t begin, int64_t end) {
    thread_local std::vector<float> storage;
    for (int64_t first = 0; first < k; first += block_depth) {
      const int64_t depth = std::min(block_depth, k - first), panel_size = kPanel * depth;
      // Panels start on a cache line (their rows are 128 bytes), so no load of the kernel splits one.
      storage.resize(kPanelsPerGroup * panel_size + 16);
      float* const packed = storage.data() + (16 - reinterpret_cast<uintptr_t>(storage.data()) / sizeof(float) % 16) % 16;
      for (int64_t group = begin; group < end; group += kPanelsPerGroup) {
        const int64_t group_end = std::min(end, group + kPanelsPerGroup);
        for (int64_t p = group; p < group_end; ++p) {
          const int64_t col = p * kPanel, cols = std::min(kPanel, n - col);
          float* panel = packed + (p - group) * panel_size;
          if (w_dtype == DType::f32) {
            pack(static_cast<const float*>(w), k, col, cols, first, depth, panel);
          } else {
            pack(static_cast<const uint16_t*>(w), k, col, cols, first, depth, panel);
          }
        }
        for (int64_t row = 0; row < m; row += kRows) {
          const int rows = static_cast<int>(std::min(kRows, m - row));
          for (int64_t p = group; p < group_end; ++p) {
            const int64_t col = p * kPanel;
            kernels.gemm_f32(x + row * k + first, k, rows, packed + (p - group) * panel_size, depth,
                             y + row * n + col, n, static_cast<int>(std::min(kPanel, n - col)), first > 0);
          }
        }
      }
    }
  });
}

}  // namespace shardlm::cpu
