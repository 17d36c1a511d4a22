// Causal attention over contiguous or paged K/V in f32 or bf16, with the flash-attention recurrence
// (Dao et al., 2022): a block of 128 threads per (query token, head) takes the visible keys 128 at
// a time, each thread one key's score, then rescales its running output by exp(old max - new max),
// so nothing grows with the length. GQA and MQA read their shared K/V head in place (no copies);
// ALiBi's bias is computed here from the slopes. Scores on CUDA cores, one query row per block. When
// the rows and heads are too few to fill the GPU (decode), each row's keys are split into ranges
// taken by blocks of their own, merged by a second kernel (split-K, attention_merge.h).
#include "kernels/cuda/attention_merge.h"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/paged_kv.cuh"

namespace shardlm::cuda {
namespace {

constexpr int kTile = 128;       // keys per step, one per thread
constexpr int kMaxHeadDim = 256; // two output dimensions per thread

__device__ float kv_value(const void* kv, int dtype, int64_t i) {
  return dtype == 2 ? bf16_to_float(static_cast<const uint16_t*>(kv)[i]) : static_cast<const float*>(kv)[i];
}

__global__ void attention_kernel(const float* q, const void* k, const void* v, float* out, AttentionArgs a) {
  __shared__ float query[kMaxHeadDim];
  __shared__ float weights[kTile];
  __shared__ float scratch[kTile / 32];
  const int64_t t = blockIdx.x, h = blockIdx.y, kv_head = h / (a.heads / a.kv_heads);
  const int64_t visible = a.start_pos + t + 1;
  // This block's range of the keys: all of them, or split blockIdx.z of a.splits (whole tiles each).
  const int64_t tiles_per_split = ((a.start_pos + a.tokens + kTile - 1) / kTile + a.splits - 1) / a.splits;
  const int64_t begin = blockIdx.z * tiles_per_split * kTile, end = min(visible, begin + tiles_per_split * kTile);
  const float* q_row = q + (t * a.heads + h) * a.head_dim;
  for (int64_t d = threadIdx.x; d < a.head_dim; d += blockDim.x) query[d] = q_row[d];
  __syncthreads();
  const float slope = a.alibi_slopes != nullptr ? a.alibi_slopes[h] : 0.0f;
  float running_max = -INFINITY, running_sum = 0.0f;
  float acc[kMaxHeadDim / kTile] = {0.0f, 0.0f};
  for (int64_t first = begin; first < end; first += kTile) {
    const int64_t p = first + threadIdx.x;
    float score = -INFINITY;
    if (p < end) {
      const int64_t key = kv_offset(a, p, kv_head);
      float dot = 0.0f;
      for (int64_t d = 0; d < a.head_dim; ++d) dot += query[d] * kv_value(k, a.kv_dtype, key + d);
      score = dot * a.scale - slope * static_cast<float>(a.start_pos + t - p);
    }
    const float new_max = fmaxf(running_max, block_max(score, scratch));
    const float rescale = __expf(running_max - new_max);  // 0 on the first tile (max was -inf)
    const float weight = p < end ? __expf(score - new_max) : 0.0f;
    weights[threadIdx.x] = weight;
    running_sum = running_sum * rescale + block_sum(weight, scratch);  // block_sum syncs: weights are visible
    const int64_t count = min(static_cast<int64_t>(kTile), end - first);
#pragma unroll  // constant indices keep acc in registers
    for (int j = 0; j < kMaxHeadDim / kTile; ++j) {
      const int64_t d = threadIdx.x + j * kTile;
      if (d >= a.head_dim) continue;
      float sum = 0.0f;
      for (int64_t i = 0; i < count; ++i) sum += weights[i] * kv_value(v, a.kv_dtype, kv_offset(a, first + i, kv_head) + d);
      acc[j] = acc[j] * rescale + sum;
    }
    running_max = new_max;
    __syncthreads();  // weights are rewritten by the next tile
  }
  const int64_t row = t * a.heads + h;
  if (a.splits == 1) {
#pragma unroll
    for (int j = 0; j < kMaxHeadDim / kTile; ++j) {
      const int64_t d = threadIdx.x + j * kTile;
      if (d < a.head_dim) out[row * a.head_dim + d] = acc[j] / running_sum;
    }
    return;
  }
  // The range's partial result, unnormalized (an empty range leaves maximum -inf and zeros).
  float* partial = a.partials + (row * a.splits + blockIdx.z) * partial_floats(a.head_dim);
  if (threadIdx.x == 0) partial[0] = running_max, partial[1] = running_sum;
#pragma unroll
  for (int j = 0; j < kMaxHeadDim / kTile; ++j) {
    const int64_t d = threadIdx.x + j * kTile;
    if (d < a.head_dim) partial[2 + d] = acc[j];
  }
}

__global__ void merge_kernel(float* out, AttentionArgs a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * a.heads + blockIdx.y;
  const float* partials = a.partials + row * a.splits * partial_floats(a.head_dim);
  for (int64_t d = threadIdx.x; d < a.head_dim; d += blockDim.x)
    out[row * a.head_dim + d] = merged_output(partials, a.splits, a.head_dim, d);
}

}  // namespace

cudaError_t attention(const float* q, const void* k, const void* v, float* out, const AttentionArgs& args,
                      cudaStream_t stream) {
  if (args.tokens <= 0) return cudaSuccess;
  if (tensor_cores_take(args)) return attention_tensor_cores(q, k, v, out, args, stream);
  if (args.head_dim > kMaxHeadDim || args.kv_heads <= 0 || args.heads % args.kv_heads != 0 ||
      (args.kv_dtype != 0 && args.kv_dtype != 2) || args.splits < 1 || args.splits > kMaxSplits ||
      (args.splits > 1 && args.partials == nullptr))
    return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(args.tokens), static_cast<unsigned>(args.heads), static_cast<unsigned>(args.splits));
  attention_kernel<<<grid, kTile, 0, stream>>>(q, k, v, out, args);
  if (args.splits > 1) merge_kernel<<<dim3(grid.x, grid.y), kTile, 0, stream>>>(out, args);
  return cudaGetLastError();
}

}  // namespace shardlm::cuda
