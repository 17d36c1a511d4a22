#include "runtime/model/shard_weights.h"

#include <cstring>
#include <utility>
#include <vector>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"
#include "runtime/core/mapped_file.h"

namespace shardlm {
namespace {

using RowRange = std::pair<int64_t, int64_t>;  // first row, row count

// Rows of `t` (a matrix or a vector) in the given ranges, in order: a view when there is one range.
Tensor gather_rows(const Tensor& t, const std::vector<RowRange>& ranges) {
  if (!t.defined()) return t;
  if (ranges.size() == 1) {
    Tensor view = t.rows(ranges[0].first, ranges[0].second);
    if (t.file_backed() && view.bytes() < t.bytes()) isolate_mapped_view(view.data(), view.bytes());
    return view;
  }
  int64_t total = 0;
  for (const auto& [first, count] : ranges) total += count;
  std::vector<int64_t> shape = t.shape();
  shape[0] = total;
  Tensor out = cpu_backend().empty(shape, t.dtype());
  const size_t row_bytes = t.bytes() / t.dim(0);
  auto* dst = static_cast<uint8_t*>(out.data());
  for (const auto& [first, count] : ranges) {
    const uint8_t* src = static_cast<const uint8_t*>(t.data()) + first * row_bytes;
    std::memcpy(dst, src, count * row_bytes);
    if (t.file_backed()) release_mapped_pages(src, count * row_bytes);
    dst += count * row_bytes;
  }
  return out;
}

// Columns [first, first + count) of a matrix, copied: each row's slice is read, nothing else, and the
// file's pages are given back (the copy is what the rank keeps). A block
// format's slice is whole blocks when both ends fall on a block boundary; otherwise (a tensor-parallel
// cut inside a block of 32) the slice is dequantized to f32, which is exact and only larger.
Tensor gather_columns(const Tensor& t, int64_t first, int64_t count) {
  const int64_t columns = t.dim(1);
  if (is_block_dtype(t.dtype()) && (first % kQuantBlock != 0 || count % kQuantBlock != 0)) {
    Tensor out = cpu_backend().empty({t.dim(0), count}, DType::f32);
    for (int64_t r = 0; r < t.dim(0); ++r) {
      for (int64_t c = 0; c < count; ++c)
        out.data_as<float>()[r * count + c] = load_as_f32(t.data(), t.dtype(), r * columns + first + c);
    }
    if (t.file_backed()) release_mapped_pages(t.data(), t.bytes());
    return out;
  }
  Tensor out = cpu_backend().empty({t.dim(0), count}, t.dtype());
  const size_t skip = dtype_bytes(t.dtype(), first), slice = dtype_bytes(t.dtype(), count);
  const size_t row_bytes = dtype_bytes(t.dtype(), columns);
  for (int64_t r = 0; r < t.dim(0); ++r) {
    std::memcpy(static_cast<uint8_t*>(out.data()) + r * slice, static_cast<const uint8_t*>(t.data()) + r * row_bytes + skip,
                slice);
  }
  if (t.file_backed()) release_mapped_pages(t.data(), t.bytes());
  return out;
}

// A slice of a larger heap allocation (a dequantized or converted tensor) moves to storage of its
// own, so the whole can be freed once sharding is done; views of the mapped file stay views.
Tensor compact(const Tensor& t) {
  if (t.owns_no_extra_memory()) return t;
  Tensor own = cpu_backend().empty(t.shape(), t.dtype());
  std::memcpy(own.data(), t.data(), t.bytes());
  return own;
}

Linear column_parallel(const Linear& layer, const std::vector<RowRange>& rows) {
  return {compact(gather_rows(layer.weight, rows)), compact(gather_rows(layer.bias, rows))};
}

Linear row_parallel(const Linear& layer, int64_t first, int64_t count) {
  return {gather_columns(layer.weight, first, count), layer.bias};
}

// Where query head h, and key and value head j, sit among a fused QKV projection's output rows.
struct QkvRows {
  const ModelSpec& s;
  int64_t q(int64_t h) const {
    const int64_t hd = s.head_dim, group = s.heads / s.kv_heads;
    switch (s.qkv_layout) {
      case QkvLayout::per_head: return 3 * h * hd;
      case QkvLayout::per_kv_group: return ((h / group) * (group + 2) + h % group) * hd;
      default: return h * hd;
    }
  }
  int64_t k(int64_t j) const {
    const int64_t hd = s.head_dim, group = s.heads / s.kv_heads;
    switch (s.qkv_layout) {
      case QkvLayout::per_head: return (3 * j + 1) * hd;
      case QkvLayout::per_kv_group: return (j * (group + 2) + group) * hd;
      default: return s.q_dim() + j * hd;
    }
  }
  int64_t v(int64_t j) const {
    switch (s.qkv_layout) {
      case QkvLayout::per_head:
      case QkvLayout::per_kv_group: return k(j) + s.head_dim;
      default: return s.q_dim() + s.kv_dim() + j * s.head_dim;
    }
  }
};

// The rows of the given heads, in order; adjacent heads merge into one range (a view, not a copy).
std::vector<RowRange> head_rows(const std::vector<int64_t>& heads, int64_t head_dim, auto&& row_of) {
  std::vector<RowRange> ranges;
  for (int64_t h : heads) {
    const int64_t row = row_of(h);
    if (!ranges.empty() && ranges.back().first + ranges.back().second == row) {
      ranges.back().second += head_dim;
    } else {
      ranges.push_back({row, head_dim});
    }
  }
  return ranges;
}

}  // namespace

LoadedModel shard_model(LoadedModel full, const TensorParallelShard& shard) {
  const ModelSpec& s = full.spec;
  if (shard.tp == 1) return full;
  LoadedModel local{s, {}};
  local.spec.heads = shard.heads;
  local.spec.kv_heads = shard.kv_heads();
  local.spec.ffn_hidden = shard.ffn;
  local.spec.qkv_layout = QkvLayout::separate;
  const int64_t hd = s.head_dim;

  // The token embedding is replicated: a lookup reads only a few rows, so splitting it would save
  // memory (for Llama-2-70B in bf16 at tp 8: 32000 x 8192 x 2 B = 0.52 GB per rank, of which 0.46 GB
  // could go, 0.6% of an 80 GB GPU) at the price of an all-reduce per step. The LM head, read whole
  // every step, is split by vocabulary rows (Placement::vocab_first) and its logits summed.
  ModelWeights& w = local.weights;
  w.token_embedding = full.weights.token_embedding;
  w.position_embedding = full.weights.position_embedding;
  w.embedding_norm = full.weights.embedding_norm;
  w.final_norm = full.weights.final_norm;
  if (full.weights.lm_head.defined()) w.lm_head = compact(full.weights.lm_head.rows(shard.first_vocab, shard.vocab));
  // The whole head goes before the layers' row-parallel copies are made, so that a head repacked on
  // the heap (Q6_K as q8_0: 204 MiB for a 49k vocabulary at 4,096) and those copies never meet.
  full.weights.lm_head = Tensor();

  const QkvRows fused{s};
  std::vector<int64_t> query_heads;
  for (int64_t h = shard.first_head; h < shard.first_head + shard.heads; ++h) query_heads.push_back(h);
  for (const LayerWeights& layer : full.weights.layers) {
    LayerWeights mine;
    mine.attn_norm = layer.attn_norm;
    mine.ffn_norm = layer.ffn_norm;
    if (s.qkv_layout == QkvLayout::separate) {
      mine.q = column_parallel(layer.q, {{shard.first_head * hd, shard.heads * hd}});
      mine.k = column_parallel(layer.k, head_rows(shard.kv_sources, hd, [&](int64_t j) { return j * hd; }));
      mine.v = column_parallel(layer.v, head_rows(shard.kv_sources, hd, [&](int64_t j) { return j * hd; }));
    } else {
      mine.q = column_parallel(layer.qkv, head_rows(query_heads, hd, [&](int64_t h) { return fused.q(h); }));
      mine.k = column_parallel(layer.qkv, head_rows(shard.kv_sources, hd, [&](int64_t j) { return fused.k(j); }));
      mine.v = column_parallel(layer.qkv, head_rows(shard.kv_sources, hd, [&](int64_t j) { return fused.v(j); }));
    }
    mine.o = row_parallel(layer.o, shard.first_head * hd, shard.heads * hd);
    if (layer.gate.weight.defined()) mine.gate = column_parallel(layer.gate, {{shard.first_ffn, shard.ffn}});
    mine.up = column_parallel(layer.up, {{shard.first_ffn, shard.ffn}});
    mine.down = row_parallel(layer.down, shard.first_ffn, shard.ffn);
    w.layers.push_back(std::move(mine));
  }
  return local;
}

LoadedModel stage_model(const LoadedModel& model, const StageLayers& layers, bool first_stage, bool last_stage) {
  LoadedModel stage{model.spec, {}};
  stage.spec.layers = layers.count;
  const ModelWeights& w = model.weights;
  if (first_stage) {
    stage.weights.token_embedding = w.token_embedding;
    stage.weights.position_embedding = w.position_embedding;
    stage.weights.embedding_norm = w.embedding_norm;
  }
  if (last_stage) {
    stage.weights.final_norm = w.final_norm;
    stage.weights.lm_head = w.lm_head;
  }
  stage.weights.layers.assign(w.layers.begin() + layers.first, w.layers.begin() + layers.first + layers.count);
  return stage;
}

}  // namespace shardlm
