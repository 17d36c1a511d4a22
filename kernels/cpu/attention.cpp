// Causal attention by the flash-attention recurrence: keys are visited in tiles while each query keeps
// a running max m, a running sum l of exp(score - m) and an output accumulator; when a tile raises m,
// l and the accumulator are rescaled by exp(m_old - m_new). Memory is O(head_dim) per query at any
// context length, and no score vector as long as the context is ever stored.
//
// The query heads that share a kv head (GQA/MQA) are processed together, up to 4 at a time, and
// scores come from the SIMD tile 4 keys at a time, so each key loaded serves all those heads.
//
// With a paged K/V cache the keys of a tile may lie in several blocks. The softmax recurrence still
// runs over whole tiles of kTile keys (so small blocks do not multiply the rescaling work); only the
// dot products and the weighted sum are issued per run of keys that are consecutive rows in memory,
// which is a whole tile in the contiguous case and the part of the tile inside one block when paged.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/work_split.h"
#include "kernels/cpu/simd.h"
#include "runtime/core/check.h"

namespace shardlm::cpu {
namespace {

constexpr int64_t kTile = 64;  // keys per tile: a tile's scores for every query head fit in L1
constexpr int kMaxHeads = simd::kMaxTileRows;
// One unit of work: query token t, and query heads [first_head, first_head + head_count) that all read
// kv head kv_head.
struct Item {
  int64_t t, kv_head, first_head;
  int head_count;
};
// Keys [first, first + count) of a tile (offsets within the tile) whose rows for one kv head lie at
// keys + i * row_stride and values + i * row_stride.
struct Run {
  int64_t first, count;
  const float *keys, *values;
};

// How many runs of at most kMaxHeads query heads cover one kv head's group.
int64_t heads_chunks_per_group(const AttentionShape& shape) {
  const int64_t group = shape.heads / shape.kv_heads;
  return (group + kMaxHeads - 1) / kMaxHeads;
}

class Attender {
 public:
  Attender(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape)
      : q_(q), k_(k), v_(v), out_(out), s_(shape), kernels_(simd::active_kernels()),
        dot_tile_(kernels_.dot_tile[static_cast<int>(DType::f32)]),
        group_(shape.heads / shape.kv_heads),
        chunks_per_group_(heads_chunks_per_group(shape)),
        heads_per_chunk_((group_ + chunks_per_group_ - 1) / chunks_per_group_),
        row_stride_(shape.block_table != nullptr ? shape.head_dim : shape.kv_stride),
        accumulators_(kMaxHeads * shape.head_dim) {}

  Item item(int64_t index) const {
    const int64_t chunk = index % chunks_per_group_;
    const int64_t kv_head = (index / chunks_per_group_) % s_.kv_heads;
    const int64_t t = index / (chunks_per_group_ * s_.kv_heads);
    const int64_t first_head = kv_head * group_ + chunk * heads_per_chunk_;
    return {t, kv_head, first_head, static_cast<int>(std::min(heads_per_chunk_, group_ - chunk * heads_per_chunk_))};
  }

  // Splits keys [tile, tile + tile_keys) of kv head kv_head into runs of consecutive rows; returns how
  // many runs it wrote to runs_. One division per tile, none per key.
  int split_tile(int64_t kv_head, int64_t tile, int64_t tile_keys) {
    const int64_t d = s_.head_dim;
    if (s_.block_table == nullptr) {
      const int64_t offset = tile * s_.kv_stride + kv_head * d;
      runs_[0] = {0, tile_keys, k_ + offset, v_ + offset};
      return 1;
    }
    const int64_t block_size = s_.block_size;
    int64_t logical_block = tile / block_size;
    int64_t slot = tile - logical_block * block_size;
    int count = 0;
    for (int64_t first = 0; first < tile_keys; ++logical_block, slot = 0) {
      const int64_t keys = std::min(block_size - slot, tile_keys - first);
      const int64_t physical_block = s_.block_table[logical_block];
      const int64_t offset = ((physical_block * s_.kv_heads + kv_head) * block_size + slot) * d;
      runs_[count++] = {first, keys, k_ + offset, v_ + offset};
      first += keys;
    }
    return count;
  }

  void run(const Item& item) {
    const int64_t d = s_.head_dim;
    const int rows = item.head_count;
    const float* queries = q_ + (item.t * s_.heads + item.first_head) * d;  // heads of a token are adjacent
    const int64_t visible = s_.start_pos + item.t + 1;  // causal: keys 0 .. start_pos + t

    float running_max[kMaxHeads], running_sum[kMaxHeads];
    std::fill_n(running_max, rows, -INFINITY);
    std::fill_n(running_sum, rows, 0.0f);
    std::fill_n(accumulators_.begin(), rows * d, 0.0f);

    for (int64_t tile = 0; tile < visible; tile += kTile) {
      const int64_t tile_keys = std::min(kTile, visible - tile);
      const int run_count = split_tile(item.kv_head, tile, tile_keys);
      for (int i = 0; i < run_count; ++i) {
        const Run& run = runs_[i];
        for (int64_t j = 0; j < run.count; j += simd::kMaxTileCols) {
          const int cols = static_cast<int>(std::min<int64_t>(simd::kMaxTileCols, run.count - j));
          dot_tile_(queries, d, rows, run.keys + j * row_stride_, row_stride_, cols, d, &scores_[0][run.first + j],
                    kTile);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* acc = accumulators_.data() + r * d;
        for (int64_t j = 0; j < tile_keys; ++j) scores_[r][j] *= s_.scale;
        if (s_.alibi_slopes != nullptr) {
          // ALiBi: a penalty growing linearly with the distance from the query back to the key.
          const float slope = s_.alibi_slopes[item.first_head + r];
          const int64_t query_position = s_.start_pos + item.t;
          for (int64_t j = 0; j < tile_keys; ++j) {
            scores_[r][j] -= slope * static_cast<float>(query_position - (tile + j));
          }
        }
        const float tile_max = *std::max_element(scores_[r], scores_[r] + tile_keys);
        if (tile_max > running_max[r]) {
          // Nothing to rescale before the first tile (the sum and accumulator are still zero).
          if (running_sum[r] > 0.0f) {
            const float correction = std::exp(running_max[r] - tile_max);
            running_sum[r] *= correction;
            kernels_.scale(correction, acc, d);
          }
          running_max[r] = tile_max;
        }
        float weights[kTile];
        for (int64_t j = 0; j < tile_keys; ++j) {
          weights[j] = std::exp(scores_[r][j] - running_max[r]);
          running_sum[r] += weights[j];
        }
        for (int i = 0; i < run_count; ++i) {
          const Run& run = runs_[i];
          kernels_.weighted_sum(weights + run.first, run.count, run.values, row_stride_, acc, d);
        }
      }
    }

    for (int r = 0; r < rows; ++r) {
      const float* acc = accumulators_.data() + r * d;
      float* result = out_ + (item.t * s_.heads + item.first_head + r) * d;
      const float inv_sum = 1.0f / running_sum[r];
      for (int64_t i = 0; i < d; ++i) result[i] = acc[i] * inv_sum;
    }
  }

 private:
  const float *q_, *k_, *v_;
  float* out_;
  const AttentionShape& s_;
  const simd::Kernels& kernels_;
  simd::DotTileFn dot_tile_;
  // A group of 9 heads runs as 3 + 3 + 3 rather than 4 + 4 + 1, which would leave a chunk mostly idle.
  int64_t group_, chunks_per_group_, heads_per_chunk_;
  int64_t row_stride_;  // floats between consecutive positions within a run: kv_stride, or head_dim when paged
  std::vector<float> accumulators_;  // [kMaxHeads, head_dim]
  float scores_[kMaxHeads][kTile];
  Run runs_[kTile];  // the current tile's runs: one per key at worst (block_size 1)
};

}  // namespace

void attention(ThreadPool& pool, const float* q, const float* k, const float* v, float* out,
               const AttentionShape& shape) {
  SHARDLM_CHECK(shape.tokens >= 0 && shape.start_pos >= 0 && shape.head_dim > 0,
                "attention: bad shape tokens={} start_pos={} head_dim={}", shape.tokens, shape.start_pos,
                shape.head_dim);
  SHARDLM_CHECK(shape.heads > 0 && shape.kv_heads > 0 && shape.heads % shape.kv_heads == 0,
                "attention: heads ({}) must be a positive multiple of kv_heads ({})", shape.heads, shape.kv_heads);
  if (shape.block_table != nullptr) {
    SHARDLM_CHECK(shape.block_size > 0, "attention: block_size {} must be positive with a block table",
                  shape.block_size);
    // The pool's block count is not known here, but a negative entry (e.g. an unassigned slot) is
    // always wrong, and the table is only positions / block_size entries long, so check it.
    const int64_t blocks = (shape.start_pos + shape.tokens + shape.block_size - 1) / shape.block_size;
    for (int64_t b = 0; b < blocks; ++b) {
      SHARDLM_CHECK(shape.block_table[b] >= 0, "attention: block_table[{}] = {} is negative", b,
                    shape.block_table[b]);
    }
  } else {
    SHARDLM_CHECK(shape.kv_stride >= shape.kv_heads * shape.head_dim,
                  "attention: kv_stride {} is less than kv_heads * head_dim = {}", shape.kv_stride,
                  shape.kv_heads * shape.head_dim);
  }

  if (shape.tokens == 0) return;

  const int64_t items = shape.tokens * shape.kv_heads * heads_chunks_per_group(shape);
  // Two multiply-adds (q.k and p*v) per visible key, head and dimension, at most.
  const int64_t macs = 2 * shape.tokens * shape.heads * shape.head_dim * (shape.start_pos + shape.tokens);
  const int64_t threads = std::clamp<int64_t>(macs / kMinMacsPerThread, 1, std::min<int64_t>(pool.size(), items));

  // Causal prefill gives later tokens more keys, so each thread takes every threads-th item rather
  // than a contiguous run: the work then balances whatever the token count.
  pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
    Attender attender(q, k, v, out, shape);
    for (int64_t slot = begin; slot < end; ++slot) {
      for (int64_t index = slot; index < items; index += threads) attender.run(attender.item(index));
    }
  });
}

}  // namespace shardlm::cpu
