#include "runtime/plan/rank_weights.h"

namespace shardlm::plan {

RankPlace rank_place(const ModelSpec& spec, int tp, int pp, int tp_rank, int pp_rank,
                     const std::vector<int64_t>& pp_layers) {
  RankPlace place;
  place.shard =
      TensorParallelShard::plan(spec.family, spec.heads, spec.kv_heads, spec.ffn_hidden, spec.vocab_size, tp, tp_rank);
  const auto stages = partition_layers(spec.layers, pp, pp_layers);
  place.stage = stages.at(pp_rank);
  place.first_stage = pp_rank == 0;
  place.last_stage = pp_rank == pp - 1;
  place.tp = tp;
  place.pp = pp;
  return place;
}

void for_each_tensor(const ModelSpec& s, const RankPlace& place, const std::function<void(const TensorShape&)>& visit) {
  const TensorParallelShard& shard = place.shard;
  const bool split = place.tp > 1;
  const int64_t heads = split ? shard.heads : s.heads, kv = split ? shard.kv_heads() : s.kv_heads;
  const int64_t ffn = split ? shard.ffn : s.ffn_hidden, vocab = split ? shard.vocab : s.vocab_size;
  const int64_t hd = s.head_dim, h = s.hidden;
  Section section = Section::embeddings;
  auto vec = [&](int64_t n) { visit({TensorRole::vector, section, n, 1, n, false}); };
  auto norm = [&] {
    vec(h);
    if (s.norm_bias) vec(h);
  };
  if (place.first_stage) {
    visit({TensorRole::embedding, section, s.vocab_size, h, s.vocab_size, true});
    if (s.position == PositionKind::learned)
      visit({TensorRole::position, section, s.max_seq_len, h, s.max_seq_len, true});
    if (s.embedding_norm) norm();
  }
  const int64_t layers = place.stage.count;
  section = Section::layers;
  for (int64_t l = 0; l < layers; ++l) {
    norm();
    if (!s.shared_attention_norm) norm();
    visit({TensorRole::column, section, heads * hd, h, s.heads * hd, true, true});
    for (int i = 0; i < 2; ++i) visit({TensorRole::kv, section, kv * hd, h, s.kv_heads * hd, true, true});
    visit({TensorRole::row, section, h, heads * hd, h, true});
    if (s.attention_bias) {
      vec(heads * hd);
      vec(kv * hd), vec(kv * hd);
      vec(h);  // row-parallel: kept whole, added once after the all-reduce
    }
    const int up_matrices = s.ffn == FfnKind::swiglu ? 2 : 1;
    for (int i = 0; i < up_matrices; ++i) {
      visit({TensorRole::column, section, ffn, h, s.ffn_hidden, true});
      if (s.mlp_bias) vec(ffn);
    }
    visit({TensorRole::row, section, h, ffn, h, true});
    if (s.mlp_bias) vec(h);
  }
  section = Section::head;
  if (place.last_stage) {
    norm();
    // Tied on one rank, the LM head is the embedding itself; otherwise the rank holds its own rows.
    if (!(s.tied_embeddings && place.tp == 1 && place.first_stage))
      visit({TensorRole::lm_head, section, vocab, h, s.vocab_size, true});
  }
}

namespace {

// Embedding tables and the LM head keep a format of their own beside int8 / int4 layers.
bool table_like(const TensorShape& t) {
  return t.role == TensorRole::embedding || t.role == TensorRole::position || t.role == TensorRole::lm_head;
}

}  // namespace

int64_t tensor_bytes(const TensorShape& t, NumberFormat weights) {
  if (!t.matrix) return 4 * t.rows;
  return table_like(t) ? table_bytes(t.rows, t.cols, weights) : matrix_bytes(t.rows, t.cols, weights);
}

DType tensor_dtype(const TensorShape& t, NumberFormat weights) {
  return table_like(t) ? table_dtype(t.cols, weights) : matrix_dtype(t.cols, weights);
}

WeightBytes rank_weight_bytes(const ModelSpec& spec, const RankPlace& place, NumberFormat weights) {
  WeightBytes bytes;
  for_each_tensor(spec, place, [&](const TensorShape& t) {
    bytes.parameters += t.rows * t.cols;
    const int64_t size = tensor_bytes(t, weights);
    (t.section == Section::embeddings ? bytes.embeddings
     : t.section == Section::layers   ? bytes.layers
                                      : bytes.lm_head) += size;
  });
  return bytes;
}

int64_t parameter_count(const ModelSpec& spec) {
  const RankPlace whole = rank_place(spec, 1, 1, 0, 0);
  int64_t count = 0;
  for_each_tensor(spec, whole, [&](const TensorShape& t) { count += t.rows * t.cols; });
  return count;
}

}  // namespace shardlm::plan
