// y = x w^T with w [n, k] in f32, f16 or bf16: threads split the output columns (weight rows), and
// each weight row, once loaded, is multiplied with up to kMaxDotRows input rows.
#include <algorithm>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
namespace {

// Below this many multiply-adds per thread, waking another thread (microseconds) costs more than it saves.
constexpr int64_t kMinMacsPerThread = 64 * 1024;
// Weight rows per block: the block stays in L2 while every group of input rows passes over it, so for
// m > 1 the weights come from memory once rather than once per group.
constexpr int64_t kBlockBytes = 128 * 1024;

}  // namespace

void matmul(ThreadPool& pool, const float* x, const void* w, DType w_dtype, float* y, int64_t m, int64_t n, int64_t k) {
  SHARDLM_CHECK(m >= 0 && n >= 0 && k >= 0, "matmul: negative shape m={} n={} k={}", m, n, k);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    std::fill(y, y + m * n, 0.0f);
    return;
  }
  const simd::DotRowsFn dot_rows = simd::active_kernels().dot_rows[static_cast<int>(w_dtype)];
  const int64_t row_bytes = k * static_cast<int64_t>(dtype_size(w_dtype));
  const int64_t block_rows = std::max<int64_t>(1, kBlockBytes / row_bytes);
  const int64_t min_columns = std::max<int64_t>(1, kMinMacsPerThread / (m * k));
  const auto* weights = static_cast<const char*>(w);

  pool.parallel_for(n, min_columns, [&](int64_t begin, int64_t end) {
    float dots[simd::kMaxDotRows];
    for (int64_t block = begin; block < end; block += block_rows) {
      const int64_t block_end = std::min(end, block + block_rows);
      for (int64_t row = 0; row < m; row += simd::kMaxDotRows) {
        const int rows = static_cast<int>(std::min<int64_t>(simd::kMaxDotRows, m - row));
        for (int64_t col = block; col < block_end; ++col) {
          dot_rows(x + row * k, k, rows, weights + col * row_bytes, k, dots);
          for (int r = 0; r < rows; ++r) y[(row + r) * n + col] = dots[r];
        }
      }
    }
  });
}

}  // namespace shardlm::cpu
