// Portable versions of the inner loops, for CPUs without AVX2. Each dot product keeps kLanes partial
// sums: the compiler cannot reorder a float sum itself, and separate sums let it use SSE registers
// and keep several additions in flight.
#include "kernels/cpu/simd.h"
#include "runtime/core/dtype.h"

namespace shardlm::cpu::simd {
namespace {

constexpr int64_t kLanes = 8;

struct LoadF32 {
  static constexpr int64_t kBytes = 4;
  static float at(const void* w, int64_t i) { return static_cast<const float*>(w)[i]; }
};
struct LoadF16 {
  static constexpr int64_t kBytes = 2;
  static float at(const void* w, int64_t i) { return f16_to_f32(static_cast<const uint16_t*>(w)[i]); }
};
struct LoadBf16 {
  static constexpr int64_t kBytes = 2;
  static float at(const void* w, int64_t i) { return bf16_to_f32(static_cast<const uint16_t*>(w)[i]); }
};

template <class Load, int Rows>
void dot_rows(const float* x, int64_t x_stride, const void* w, int64_t k, float* out) {
  float sums[Rows][kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= k; i += kLanes) {
    for (int64_t lane = 0; lane < kLanes; ++lane) {
      const float weight = Load::at(w, i + lane);
      for (int r = 0; r < Rows; ++r) sums[r][lane] += x[r * x_stride + i + lane] * weight;
    }
  }
  for (int64_t lane = 0; i < k; ++i, ++lane) {
    const float weight = Load::at(w, i);
    for (int r = 0; r < Rows; ++r) sums[r][lane] += x[r * x_stride + i] * weight;
  }
  for (int r = 0; r < Rows; ++r) {
    // Pairwise, so the rounding of the final reduction grows with log2(kLanes), not kLanes.
    for (int64_t width = kLanes / 2; width > 0; width /= 2) {
      for (int64_t lane = 0; lane < width; ++lane) sums[r][lane] += sums[r][lane + width];
    }
    out[r] = sums[r][0];
  }
}

// One weight row at a time, shared by all input rows: without wide registers, more simultaneous sums
// would not fit in the 16 SSE registers anyway.
template <class Load>
void dot_tile(const float* x, int64_t x_stride, int rows, const void* w, int64_t w_stride, int cols, int64_t k,
              float* out, int64_t out_stride) {
  for (int c = 0; c < cols; ++c) {
    const void* weights = static_cast<const char*>(w) + c * w_stride * Load::kBytes;
    float dots[kMaxTileRows];
    switch (rows) {
      case 1: dot_rows<Load, 1>(x, x_stride, weights, k, dots); break;
      case 2: dot_rows<Load, 2>(x, x_stride, weights, k, dots); break;
      case 3: dot_rows<Load, 3>(x, x_stride, weights, k, dots); break;
      default: dot_rows<Load, 4>(x, x_stride, weights, k, dots); break;
    }
    for (int r = 0; r < rows; ++r) out[r * out_stride + c] = dots[r];
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale(float a, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= a;
}

}  // namespace

const Kernels& generic_kernels() {
  static const Kernels table{"generic", {dot_tile<LoadF32>, dot_tile<LoadF16>, dot_tile<LoadBf16>}, axpy, scale};
  return table;
}

}  // namespace shardlm::cpu::simd
