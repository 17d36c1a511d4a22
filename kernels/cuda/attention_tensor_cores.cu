// Prefill attention on tensor cores (the flash-attention 2 schedule, Dao 2023): a block of 4 warps
// takes 64 query rows of one head, 16 per warp, and walks the visible keys 64 at a time. Each tile
// of K and V (bf16, gathered from the paged pool through the block table) is staged in shared
// memory; S = Q K^T and the tile's P V are 16x16x16 bf16 products with f32 sums (WMMA); the online
// softmax between them is per row in f32, each lane holding half of one row's outputs in registers
// and rescaling them by exp(old max - new max). Causal masking and ALiBi's bias are applied to the
// scores; K/V heads are shared by their query heads in place (GQA, MQA).
#include <cuda_bf16.h>
#include <mma.h>

#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/paged_kv.cuh"

namespace shardlm::cuda {
namespace {

using namespace nvcuda;

constexpr int kWarps = 4;
constexpr int kFrag = 16;               // WMMA tile edge
constexpr int kRows = kWarps * kFrag;   // query rows per block
constexpr int kKeys = 64;               // keys per tile

template <int kHeadDim>
struct Tiles {
  __nv_bfloat16 q[kRows * kHeadDim];
  __nv_bfloat16 k[kKeys * kHeadDim];
  __nv_bfloat16 v[kKeys * kHeadDim];
  __nv_bfloat16 p[kWarps][kFrag * kKeys];  // each warp's softmax weights
  // Each warp's scores [16][kKeys], then its P V [16][kHeadDim] (the scores are consumed first).
  float scratch[kWarps][kFrag * (kHeadDim > kKeys ? kHeadDim : kKeys)];
};

// out [16][16] (row-major, leading dimension ldo) = a [16][16 kSteps] b [16 kSteps][16]: a row-major,
// b in BLayout, each 16-deep step moving a by 16 columns and b by b_step elements.
template <class BLayout, int kSteps>
__device__ void multiply_tile(const __nv_bfloat16* a, int lda, const __nv_bfloat16* b, int b_step, int ldb, float* out,
                              int ldo) {
  wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc;
  wmma::fill_fragment(acc, 0.0f);
#pragma unroll
  for (int kk = 0; kk < kSteps; ++kk) {
    wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, __nv_bfloat16, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, __nv_bfloat16, BLayout> fb;
    wmma::load_matrix_sync(fa, a + kk * kFrag, lda);
    wmma::load_matrix_sync(fb, b + kk * b_step, ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(out, acc, ldo, wmma::mem_row_major);
}

template <int D>
__global__ void __launch_bounds__(kWarps * 32)
    attention_tc_kernel(const float* q, const uint16_t* k_pool, const uint16_t* v_pool, float* out, AttentionArgs a) {
  extern __shared__ __align__(128) unsigned char shared[];
  Tiles<D>& tiles = *reinterpret_cast<Tiles<D>*>(shared);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t q0 = static_cast<int64_t>(blockIdx.x) * kRows, h = blockIdx.y, kv_head = h / (a.heads / a.kv_heads);
  const int64_t rows = min(static_cast<int64_t>(kRows), a.tokens - q0);
  for (int i = threadIdx.x; i < kRows * D; i += blockDim.x) {
    const int r = i / D;
    tiles.q[i] = __float2bfloat16_rn(r < rows ? q[((q0 + r) * a.heads + h) * D + i % D] : 0.0f);
  }
  const float slope = a.alibi_slopes != nullptr ? a.alibi_slopes[h] : 0.0f;
  // This lane's row of its warp's 16, and which half of the row's columns it holds.
  const int row = lane / 2, half = lane % 2;
  const int64_t t = q0 + warp * kFrag + row, q_pos = a.start_pos + t;
  float o[D / 2];
#pragma unroll
  for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
  float running_max = -INFINITY, running_sum = 0.0f;
  float* scratch = tiles.scratch[warp];
  __nv_bfloat16* weights = tiles.p[warp];
  const int64_t keys_end = a.start_pos + q0 + rows;  // what the block's last row sees

  for (int64_t k0 = 0; k0 < keys_end; k0 += kKeys) {
    __syncthreads();  // every warp is done with the previous tile (and Q is written, the first time)
    constexpr int kPieces = D / 8;  // 16-byte pieces of a row
    for (int i = threadIdx.x; i < kKeys * kPieces; i += blockDim.x) {
      const int64_t p = k0 + i / kPieces;
      uint4 key = {0, 0, 0, 0}, value = {0, 0, 0, 0};  // keys past the end: zeros, masked below
      if (p < keys_end) {
        const int64_t at = kv_offset(a, p, kv_head) + (i % kPieces) * 8;
        key = *reinterpret_cast<const uint4*>(k_pool + at);
        value = *reinterpret_cast<const uint4*>(v_pool + at);
      }
      reinterpret_cast<uint4*>(tiles.k)[i] = key;
      reinterpret_cast<uint4*>(tiles.v)[i] = value;
    }
    __syncthreads();

    // S [16][kKeys] = Q K^T for the warp's rows: K as stored ([key][d]) is K^T column-major.
#pragma unroll
    for (int j = 0; j < kKeys / kFrag; ++j)
      multiply_tile<wmma::col_major, D / kFrag>(tiles.q + warp * kFrag * D, D, tiles.k + j * kFrag * D, kFrag, D,
                                                scratch + j * kFrag, kKeys);
    __syncwarp();

    // The online softmax of this lane's half row: scores masked (causal, past the chunk) and biased.
    auto score_at = [&](int c) {
      const int64_t p = k0 + c;
      if (t >= a.tokens || p > q_pos) return -INFINITY;
      return scratch[row * kKeys + c] * a.scale - slope * static_cast<float>(q_pos - p);
    };
    float tile_max = -INFINITY;
    for (int c = half * (kKeys / 2); c < (half + 1) * (kKeys / 2); ++c) tile_max = fmaxf(tile_max, score_at(c));
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float new_max = fmaxf(running_max, tile_max);
    const bool none = new_max == -INFINITY;  // nothing visible to this row yet
    const float rescale = none ? 1.0f : __expf(running_max - new_max);
    float sum = 0.0f;
    for (int c = half * (kKeys / 2); c < (half + 1) * (kKeys / 2); ++c) {
      // The sum takes the weights as rounded for the product, so the two agree.
      const __nv_bfloat16 weight = __float2bfloat16_rn(none ? 0.0f : __expf(score_at(c) - new_max));
      weights[row * kKeys + c] = weight;
      sum += __bfloat162float(weight);
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    running_sum = running_sum * rescale + sum;
    running_max = new_max;
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] *= rescale;
    __syncwarp();  // the weights are written and the scores read before scratch takes P V

    // P V [16][D] into scratch, added to the lanes' rows.
#pragma unroll
    for (int n = 0; n < D / kFrag; ++n)
      multiply_tile<wmma::row_major, kKeys / kFrag>(weights, kKeys, tiles.v + n * kFrag, kFrag * D, D,
                                                    scratch + n * kFrag, D);
    __syncwarp();
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] += scratch[row * D + half * (D / 2) + i];
    __syncwarp();  // scratch is read before the next tile's scores overwrite it
  }
  if (t < a.tokens) {
    float* out_row = out + (t * a.heads + h) * D + half * (D / 2);
#pragma unroll
    for (int i = 0; i < D / 2; ++i) out_row[i] = o[i] / running_sum;
  }
}

template <int D>
cudaError_t launch(const float* q, const void* k, const void* v, float* out, const AttentionArgs& args,
                   cudaStream_t stream) {
  const int bytes = static_cast<int>(sizeof(Tiles<D>));
  const cudaError_t allowed =
      cudaFuncSetAttribute(attention_tc_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (allowed != cudaSuccess) return allowed;
  const dim3 grid(static_cast<unsigned>((args.tokens + kRows - 1) / kRows), static_cast<unsigned>(args.heads));
  attention_tc_kernel<D><<<grid, kWarps * 32, bytes, stream>>>(q, static_cast<const uint16_t*>(k),
                                                                static_cast<const uint16_t*>(v), out, args);
  return cudaGetLastError();
}

}  // namespace

bool tensor_cores_take(const AttentionArgs& args) {
  return args.block_table != nullptr && args.kv_dtype == 2 && (args.head_dim == 64 || args.head_dim == 128) &&
         args.tokens >= kRows && args.splits == 1;
}

cudaError_t attention_tensor_cores(const float* q, const void* k, const void* v, float* out, const AttentionArgs& args,
                                   cudaStream_t stream) {
  if (!tensor_cores_take(args) || args.kv_heads <= 0 || args.heads % args.kv_heads != 0) return cudaErrorInvalidValue;
  return args.head_dim == 64 ? launch<64>(q, k, v, out, args, stream) : launch<128>(q, k, v, out, args, stream);
}

}  // namespace shardlm::cuda
