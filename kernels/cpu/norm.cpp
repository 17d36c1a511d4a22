// RMSNorm: rows are independent, so threads split them; the sum of squares is a dot product of the
// row with itself through the SIMD table.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
void rmsnorm(ThreadPool& pool, const float* x, const float* weight, float* y, int64_t rows, int64_t dim, float eps) {
  SHARDLM_CHECK(rows >= 0 && dim > 0, "rmsnorm: bad shape rows={} dim={}", rows, dim);
  const simd::DotTileFn dot_tile = simd::active_kernels().dot_tile[static_cast<int>(DType::f32)];
  const int64_t min_rows = std::max<int64_t>(1, kMinCheapElementsPerThread / dim);
  pool.parallel_for(rows, min_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x + r * dim;
      float* out = y + r * dim;
      float sum_squares;
      dot_tile(in, dim, 1, in, dim, 1, dim, &sum_squares, 1);
      const float inv_rms = 1.0f / std::sqrt(sum_squares / static_cast<float>(dim) + eps);
      for (int64_t i = 0; i < dim; ++i) out[i] = in[i] * inv_rms * weight[i];
    }
  });
}

}  // namespace shardlm::cpu
