// Causal attention by the flash-attention recurrence: keys are visited in tiles while each query keeps
// a running max m, a running sum l of exp(score - m) and an output accumulator; when a tile raises m,
// l and the accumulator are rescaled by exp(m_old - m_new). Memory is O(head_dim) per query at any
// context length, and no score vector as long as the context is ever stored.
//
// Query tiling: one unit of work is a kv head, some of the query heads that read it (all of them for
// GQA/MQA groups up to kMaxRows) and a block of consecutive query tokens. Each tile of keys and values
// is brought from memory once and applied to every (token, head) row of the unit while it sits in L1,
// so a verify pass of speculative decoding, a prefill chunk or a GQA group costs about one stream of
// the K/V cache rather than one per query row; per row, only its causal part of the tile counts.
//
// With a paged K/V cache the keys of a tile may lie in several blocks. The softmax recurrence still
// runs over whole tiles of kTile keys (so small blocks do not multiply the rescaling work); only the
// dot products and the weighted sum are issued per run of keys that are consecutive rows in memory,
// which is a whole tile in the contiguous case and the part of the tile inside one block when paged.
//
// A bf16 K/V cache (half the bytes to stream) is read as it is stored for the keys: dot_tile's bf16
// variant widens each key as it loads it. The values of a tile are widened once into an f32 tile that
// every row of the unit then sums from with the f32 weighted_sum. A bf16 weighted_sum widening inside
// its loop was measured too (bench/kernels_attention.cpp, SmolLM2's shape, AVX-512): within 10% either
// way (ahead for one query token, behind for nine, whose rows share the widened tile), so the simpler
// way stays, with one small kernel per SIMD level instead of a second weighted sum. An int8 (q8_0)
// cache is read the same way: keys by dot_tile's q8_0 variant, values widened a tile at a time.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/ops.h"
#include "kernels/cpu/simd.h"
#include "kernels/cpu/work_split.h"
#include "runtime/core/check.h"
#include "runtime/core/dtype.h"

namespace shardlm::cpu {
namespace {

constexpr int64_t kTile = 64;  // keys per tile: with head_dim 128, its keys and values take 64 KB
// Query rows (token, head pairs) per unit of work: their scores for a tile take 8 KB and their
// accumulators 16 KB at head_dim 128, so they stay in L1/L2 beside the tile.
constexpr int64_t kMaxRows = 32;

// Keys [first, first + count) of a tile (offsets within the tile) whose rows for one kv head lie at
// element keys + i * row_stride and values + i * row_stride (of the K/V dtype).
struct Run {
  int64_t first, count;
  const void *keys, *values;
};

// How the work is cut: query heads of a kv head's group in chunks of heads_per_chunk (one chunk unless
// the group exceeds kMaxRows), query tokens in blocks of token_block.
struct Partition {
  int64_t group, chunks_per_group, heads_per_chunk, token_block, token_blocks, units;
  // Split-K ("flash-decoding"): when there are fewer units than threads can share evenly (one decode
  // token over 3 kv heads on 2 threads), each unit's keys are cut into key_splits ranges of
  // keys_per_split (a multiple of kTile) that run as separate units; their partial maxima, sums and
  // accumulators are merged at the end. work_items = units * key_splits.
  int64_t key_splits = 1, keys_per_split = 0, work_items = 0;
};

Partition partition(const AttentionShape& s, int64_t threads) {
  Partition p;
  p.group = s.heads / s.kv_heads;
  p.chunks_per_group = (p.group + kMaxRows - 1) / kMaxRows;
  // A group of 40 heads runs as 20 + 20 rather than 32 + 8, which would leave a chunk mostly idle.
  p.heads_per_chunk = (p.group + p.chunks_per_group - 1) / p.chunks_per_group;
  p.token_block = std::clamp<int64_t>(kMaxRows / p.heads_per_chunk, 1, s.tokens);
  // A few query tokens over few kv heads (a verify pass: 9 tokens, 3 kv heads) give fewer units than
  // threads, or an uneven count. Over many keys the keys are split (below): each thread streams its
  // own range of the K/V once. Over too few keys for that, the tokens are split into more blocks,
  // each of which streams the K/V again (cheap while it is short).
  const int64_t per_block = s.kv_heads * p.chunks_per_group;
  const int64_t keys = s.start_pos + s.tokens;
  const int64_t max_splits = keys / (4 * kTile);
  if (threads > 1 && max_splits < 2) {
    const int64_t wanted_blocks = (2 * threads + per_block - 1) / per_block;
    p.token_block = std::min(p.token_block, std::max<int64_t>(1, (s.tokens + wanted_blocks - 1) / wanted_blocks));
  }
  p.token_blocks = (s.tokens + p.token_block - 1) / p.token_block;
  p.units = p.token_blocks * per_block;
  // Split the keys only when units are too few to keep every thread streaming, and each range still
  // holds several tiles (the merge costs a pass over the rows' accumulators per range).
  if (threads > 1 && p.units < 2 * threads && max_splits >= 2) {
    int64_t splits = (2 * threads + p.units - 1) / p.units;
    while ((p.units * splits) % threads != 0 && splits < max_splits) ++splits;  // an even share per thread
    p.key_splits = std::min(splits, max_splits);
    const int64_t tiles = (keys + kTile - 1) / kTile;
    p.keys_per_split = (tiles + p.key_splits - 1) / p.key_splits * kTile;
    p.key_splits = (keys + p.keys_per_split - 1) / p.keys_per_split;  // no empty range at the end
  }
  if (p.key_splits == 1) p.keys_per_split = keys;
  p.work_items = p.units * p.key_splits;
  return p;
}

// Where split-K units leave their partial results: per split and (token, head) row, the running max,
// the running sum and the unnormalised accumulator [head_dim].
struct Partials {
  std::vector<float> max, sum, acc;
  int64_t rows = 0;  // tokens * heads
};

class Attender {
 public:
  Attender(const float* q, const void* k, const void* v, float* out, const AttentionShape& shape,
           const Partition& partition, Partials* partials)
      : q_(q), k_(static_cast<const char*>(k)), v_(static_cast<const char*>(v)), out_(out), s_(shape), p_(partition),
        kernels_(simd::active_kernels()), dot_tile_(kernels_.dot_tile[static_cast<int>(shape.kv_dtype)]),
        row_stride_(shape.block_table != nullptr ? shape.head_dim : shape.kv_stride),
        widen_(shape.kv_dtype != DType::f32), queries_(kMaxRows * shape.head_dim),
        accumulators_(kMaxRows * shape.head_dim), widened_values_(widen_ ? kTile * shape.head_dim : 0),
        partials_(partials) {}

  // Units are ordered with the token block outermost, so that consecutive units (and threads taking
  // every threads-th) share query tokens and causal work stays balanced.
  void run(int64_t index) {
    // The key range is outermost: a thread taking every threads-th item gets whole ranges of units.
    split_ = index / p_.units;
    index %= p_.units;
    const int64_t chunk = index % p_.chunks_per_group;
    const int64_t kv_head = (index / p_.chunks_per_group) % s_.kv_heads;
    const int64_t block = index / (p_.chunks_per_group * s_.kv_heads);
    const int64_t first_head = kv_head * p_.group + chunk * p_.heads_per_chunk;
    const int64_t heads = std::min(p_.heads_per_chunk, p_.group - chunk * p_.heads_per_chunk);
    const int64_t first_token = block * p_.token_block;
    const int64_t tokens = std::min(p_.token_block, s_.tokens - first_token);
    run(kv_head, first_head, heads, first_token, tokens);
  }

 private:
  // Splits keys [tile, tile + tile_keys) of kv head kv_head into runs of consecutive rows; returns how
  // many runs it wrote to runs_. One division per tile, none per key.
  int split_tile(int64_t kv_head, int64_t tile, int64_t tile_keys) {
    const int64_t d = s_.head_dim;
    if (s_.block_table == nullptr) {
      const int64_t offset = kv_bytes(tile * s_.kv_stride + kv_head * d);
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
      const int64_t offset = kv_bytes(((physical_block * s_.kv_heads + kv_head) * block_size + slot) * d);
      runs_[count++] = {first, keys, k_ + offset, v_ + offset};
      first += keys;
    }
    return count;
  }

  // Rows are token-major: row r is token first_token + r / heads, query head first_head + r % heads.
  void run(int64_t kv_head, int64_t first_head, int64_t heads, int64_t first_token, int64_t tokens) {
    const int64_t d = s_.head_dim, rows = heads * tokens;
    // The rows' queries, packed with stride head_dim so that dot_tile takes any 4 of them at once,
    // and scaled here rather than each score later.
    for (int64_t t = 0; t < tokens; ++t) {
      for (int64_t h = 0; h < heads; ++h) {
        const float* query = q_ + ((first_token + t) * s_.heads + first_head + h) * d;
        float* packed = queries_.data() + (t * heads + h) * d;
        for (int64_t i = 0; i < d; ++i) packed[i] = query[i] * s_.scale;
      }
    }
    std::fill_n(running_max_, rows, -INFINITY);
    std::fill_n(running_sum_, rows, 0.0f);
    std::fill_n(accumulators_.begin(), rows * d, 0.0f);

    // Causal: token t sees keys 0 .. start_pos + t, so the block's last token sees the most.
    const int64_t first_visible = s_.start_pos + first_token + 1;
    const int64_t last_visible = first_visible + tokens - 1;
    // This item's keys: [range_first, range_end), whole tiles apart from the causal end.
    const int64_t range_first = split_ * p_.keys_per_split;
    const int64_t range_end = std::min(last_visible, range_first + p_.keys_per_split);
    for (int64_t tile = range_first; tile < range_end; tile += kTile) {
      const int64_t tile_keys = std::min(kTile, range_end - tile);
      const int run_count = split_tile(kv_head, tile, tile_keys);
      const int value_runs = widen_ ? widen_values(run_count, tile_keys) : run_count;
      // Tokens that see none of this tile are done; they are the block's first ones.
      const int64_t first_row = std::max<int64_t>(0, tile - first_visible + 1) * heads;
      // Keys outermost: a few keys' rows stay in L1 while every query row meets them, where rows
      // outermost would bring the whole tile's keys back from L2 for each block of rows.
      for (int i = 0; i < run_count; ++i) {
        const Run& run = runs_[i];
        for (int64_t j = 0; j < run.count; j += simd::kMaxTileCols) {
          const int cols = static_cast<int>(std::min<int64_t>(simd::kMaxTileCols, run.count - j));
          const char* keys = static_cast<const char*>(run.keys) + kv_bytes(j * row_stride_);
          for (int64_t r = first_row; r < rows; r += simd::kMaxTileRows) {
            const int count = static_cast<int>(std::min<int64_t>(simd::kMaxTileRows, rows - r));
            dot_tile_(queries_.data() + r * d, d, count, keys, row_stride_, cols, d, &scores_[r][run.first + j], kTile);
          }
        }
      }
      for (int64_t r = first_row; r < rows; ++r) {
        const int64_t t = r / heads;
        const int64_t visible = std::min(tile_keys, first_visible + t - tile);  // of this tile, >= 1
        weigh_row(r, first_head + r % heads, s_.start_pos + first_token + t, tile, visible, tile_keys);
      }
      // The weighted sums of the values, kMaxTileRows rows at a time: each value row loaded serves
      // all of them. Keys a row does not see weigh zero (weigh_row), so every row takes whole runs.
      const Run* runs = widen_ ? value_runs_ : runs_;
      const int64_t stride = widen_ ? d : row_stride_;
      for (int64_t r = first_row; r < rows; r += simd::kMaxTileRows) {
        const int count = static_cast<int>(std::min<int64_t>(simd::kMaxTileRows, rows - r));
        for (int i = 0; i < value_runs; ++i) {
          const Run& run = runs[i];
          kernels_.weighted_sum(&scores_[r][run.first], kTile, count, run.count, static_cast<const float*>(run.values),
                                stride, accumulators_.data() + r * d, d, d);
        }
      }
    }

    for (int64_t r = 0; r < rows; ++r) {
      const float* acc = accumulators_.data() + r * d;
      const int64_t t = first_token + r / heads, h = first_head + r % heads;
      float* result = out_ + (t * s_.heads + h) * d;
      if (partials_ != nullptr) {
        // Split-K: the merge after all items normalises; a row that saw none of this range keeps
        // max -inf and sum 0, and so weighs nothing there.
        const int64_t row = split_ * partials_->rows + t * s_.heads + h;
        partials_->max[row] = running_max_[r];
        partials_->sum[row] = running_sum_[r];
        std::copy(acc, acc + d, partials_->acc.begin() + row * d);
        continue;
      }
      const float inv_sum = 1.0f / running_sum_[r];
      for (int64_t i = 0; i < d; ++i) result[i] = acc[i] * inv_sum;
    }
  }

  // Widens the values of the tile's runs (bf16 or q8_0) into widened_values_ [tile_keys, head_dim]
  // and describes them as a single run of f32 rows there; returns 1, the number of value runs. A
  // paged run's rows are adjacent (stride head_dim), so it widens in one call.
  int widen_values(int run_count, int64_t tile_keys) {
    const int64_t d = s_.head_dim;
    float* widened = widened_values_.data();
    for (int i = 0; i < run_count; ++i) {
      const Run& run = runs_[i];
      const auto* values = static_cast<const char*>(run.values);
      if (row_stride_ == d) {
        widen(values, run.count * d, widened + run.first * d);
      } else {
        for (int64_t j = 0; j < run.count; ++j) widen(values + kv_bytes(j * row_stride_), d, widened + (run.first + j) * d);
      }
    }
    value_runs_[0] = {0, tile_keys, nullptr, widened};
    return 1;
  }

  void widen(const char* values, int64_t n, float* out) const {
    if (s_.kv_dtype == DType::bf16) {
      kernels_.widen_bf16(reinterpret_cast<const uint16_t*>(values), n, out);
    } else {
      kernels_.widen_q8_0(values, n, out);
    }
  }

  // Bytes of `elements` consecutive K/V elements (a whole number of blocks for q8_0).
  int64_t kv_bytes(int64_t elements) const { return static_cast<int64_t>(dtype_bytes(s_.kv_dtype, elements)); }

  // Turns row r's scores for keys [tile, tile + visible) into softmax weights against its running
  // max, rescaling its sum and accumulator when the max rises, and adds them to its sum; the scores of
  // keys [visible, tile_keys), beyond its causal end, become weights of zero.
  void weigh_row(int64_t r, int64_t head, int64_t query_position, int64_t tile, int64_t visible, int64_t tile_keys) {
    const int64_t d = s_.head_dim;
    float* scores = scores_[r];
    if (s_.alibi_slopes != nullptr) {
      // ALiBi: a penalty growing linearly with the distance from the query back to the key.
      const float slope = s_.alibi_slopes[head];
      for (int64_t j = 0; j < visible; ++j) scores[j] -= slope * static_cast<float>(query_position - (tile + j));
    }
    float* acc = accumulators_.data() + r * d;
    const float tile_max = kernels_.max(scores, visible);
    if (tile_max > running_max_[r]) {
      // Nothing to rescale before the first tile (the sum and accumulator are still zero).
      if (running_sum_[r] > 0.0f) {
        const float correction = std::exp(running_max_[r] - tile_max);
        running_sum_[r] *= correction;
        kernels_.scale(correction, acc, d);
      }
      running_max_[r] = tile_max;
    }
    running_sum_[r] += kernels_.exp_shifted(scores, visible, running_max_[r], scores);
    std::fill(scores + visible, scores + tile_keys, 0.0f);
  }

  const float* q_;
  const char *k_, *v_;  // bytes, so that offsets work for every K/V dtype
  float* out_;
  const AttentionShape& s_;
  const Partition& p_;
  const simd::Kernels& kernels_;
  simd::DotTileFn dot_tile_;  // for the K/V dtype
  int64_t row_stride_;  // elements between consecutive positions within a run: kv_stride, or head_dim when paged
  bool widen_;          // bf16 / q8_0 values are widened to f32 a tile at a time
  std::vector<float> queries_;         // [kMaxRows, head_dim], scaled
  std::vector<float> accumulators_;    // [kMaxRows, head_dim]
  std::vector<float> widened_values_;  // [kTile, head_dim]: a bf16 / q8_0 tile's values as f32 (empty for f32)
  float running_max_[kMaxRows], running_sum_[kMaxRows];
  float scores_[kMaxRows][kTile];  // then the weights exp(score - running max)
  Run runs_[kTile];                // the current tile's runs: one per key at worst (block_size 1)
  Run value_runs_[1];              // bf16 / q8_0: the widened values of the current tile, as one run
  Partials* partials_;             // split-K: where the rows' partial results go; null otherwise
  int64_t split_ = 0;              // the key range of the item being run
};

// out = the split ranges' partial softmax results combined: with m the largest range max, each range
// weighs exp(m_s - m), as the flash-attention recurrence would have rescaled it.
void merge_partials(const Partials& partials, int64_t splits, int64_t head_dim, float* out) {
  for (int64_t row = 0; row < partials.rows; ++row) {
    float m = -INFINITY;
    for (int64_t s = 0; s < splits; ++s) m = std::max(m, partials.max[s * partials.rows + row]);
    float* result = out + row * head_dim;
    std::fill_n(result, head_dim, 0.0f);
    float sum = 0.0f;
    for (int64_t s = 0; s < splits; ++s) {
      const int64_t at = s * partials.rows + row;
      if (partials.sum[at] == 0.0f) continue;
      const float weight = std::exp(partials.max[at] - m);
      sum += partials.sum[at] * weight;
      const float* acc = partials.acc.data() + at * head_dim;
      for (int64_t i = 0; i < head_dim; ++i) result[i] += acc[i] * weight;
    }
    const float inv_sum = 1.0f / sum;
    for (int64_t i = 0; i < head_dim; ++i) result[i] *= inv_sum;
  }
}

// Threads worth handing the call to: its work, counted in multiply-adds (two per visible key, head and
// dimension, at most, plus each score's softmax cost), over what one thread should get.
int64_t wanted_threads(const AttentionShape& shape, int64_t pool_threads) {
  const int64_t scores = shape.tokens * shape.heads * (shape.start_pos + shape.tokens);
  const int64_t work = scores * (2 * shape.head_dim + kScoreCostInMacs);
  return std::clamp<int64_t>(work / kMinMacsPerThread, 1, pool_threads);
}

}  // namespace

int64_t attention_threads(const AttentionShape& shape, int64_t pool_threads) {
  if (shape.tokens == 0) return 0;
  const int64_t wanted = wanted_threads(shape, pool_threads);
  return std::min(wanted, partition(shape, wanted).work_items);
}

void attention(ThreadPool& pool, const float* q, const void* k, const void* v, float* out,
               const AttentionShape& shape) {
  SHARDLM_CHECK(shape.tokens >= 0 && shape.start_pos >= 0 && shape.head_dim > 0,
                "attention: bad shape tokens={} start_pos={} head_dim={}", shape.tokens, shape.start_pos,
                shape.head_dim);
  SHARDLM_CHECK(shape.heads > 0 && shape.kv_heads > 0 && shape.heads % shape.kv_heads == 0,
                "attention: heads ({}) must be a positive multiple of kv_heads ({})", shape.heads, shape.kv_heads);
  SHARDLM_CHECK(shape.kv_dtype == DType::f32 || shape.kv_dtype == DType::bf16 || shape.kv_dtype == DType::q8_0,
                "attention: K/V in {} are not supported (f32, bf16 or q8_0)", dtype_name(shape.kv_dtype));
  SHARDLM_CHECK(shape.kv_dtype != DType::q8_0 ||
                    (shape.head_dim % kQuantBlock == 0 && (shape.block_table != nullptr || shape.kv_stride % kQuantBlock == 0)),
                "attention: q8_0 K/V need head_dim ({}) and kv_stride ({}) in whole blocks of {}", shape.head_dim,
                shape.kv_stride, kQuantBlock);
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

  const int64_t wanted = wanted_threads(shape, pool.size());
  const Partition parts = partition(shape, wanted);
  const int64_t items = parts.work_items;
  const int64_t threads = std::min(wanted, items);
  Partials partials;
  if (parts.key_splits > 1) {
    partials.rows = shape.tokens * shape.heads;
    partials.max.assign(parts.key_splits * partials.rows, -INFINITY);
    partials.sum.assign(parts.key_splits * partials.rows, 0.0f);
    partials.acc.assign(parts.key_splits * partials.rows * shape.head_dim, 0.0f);
  }

  // Causal prefill gives later tokens more keys, so each thread takes every threads-th unit rather
  // than a contiguous run: the work then balances whatever the token count.
  pool.parallel_for(threads, 1, [&](int64_t begin, int64_t end) {
    Attender attender(q, k, v, out, shape, parts, parts.key_splits > 1 ? &partials : nullptr);
    for (int64_t slot = begin; slot < end; ++slot) {
      for (int64_t index = slot; index < items; index += threads) attender.run(index);
    }
  });
  if (parts.key_splits > 1) merge_partials(partials, parts.key_splits, shape.head_dim, out);
}

}  // namespace shardlm::cpu
