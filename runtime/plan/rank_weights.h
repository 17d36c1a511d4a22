// The weights one rank holds, tensor by tensor, from the same sharding rules the loader cuts with:
// parallel/shard.h chooses the rank's query heads, KV heads (split, replicated for MQA and small GQA,
// or copied per query head when the split is uneven), FFN columns and LM-head rows; parallel/
// pipeline.h chooses its layers; runtime/model/shard_weights.cpp replicates the embeddings and norms
// and keeps row-parallel biases whole. Nothing here is estimated: counts are exact.
#pragma once

#include <cstdint>
#include <functional>

#include "parallel/pipeline.h"
#include "parallel/shard.h"
#include "runtime/model/model_spec.h"
#include "runtime/plan/number_format.h"

namespace shardlm::plan {

// How a tensor reaches a rank, which decides its bytes and whether the loader copies it.
enum class TensorRole : uint8_t {
  embedding,  // token embedding: replicated on the first stage
  position,   // learned position table: replicated on the first stage
  lm_head,    // vocabulary rows on the last stage (a separate copy unless tied on one rank)
  column,     // q, gate, up: output rows split
  kv,         // k, v: the rank's KV heads (split, replicated or copied per query head)
  row,        // o, down: input columns split (always copied by the loader)
  vector,     // norms and biases: f32, replicated or split with their rows
};

// Which part of the model a tensor belongs to, for the memory breakdown.
enum class Section : uint8_t { embeddings, layers, head };

struct TensorShape {
  TensorRole role;
  Section section;
  int64_t rows = 0, cols = 1;  // a vector has cols 1
  int64_t full_rows = 0;       // rows of the unsharded tensor (column / kv / lm_head)
  bool matrix = true;
  bool qkv = false;  // a q, k or v projection: one fused matrix where the model fuses them and tp is 1
};

// Where a rank sits: its tensor-parallel shard and pipeline stage.
struct RankPlace {
  TensorParallelShard shard;
  StageLayers stage;
  bool first_stage = true, last_stage = true;
  int tp = 1, pp = 1;
};
RankPlace rank_place(const ModelSpec& spec, int tp, int pp, int tp_rank, int pp_rank,
                     const std::vector<int64_t>& pp_layers = {});

// Calls `visit` for every tensor the rank holds.
void for_each_tensor(const ModelSpec& spec, const RankPlace& place,
                     const std::function<void(const TensorShape&)>& visit);

struct WeightBytes {
  int64_t embeddings = 0;  // token (and position) embeddings, embedding norm
  int64_t layers = 0;      // the stage's decoder layers
  int64_t lm_head = 0;     // final norm and LM head
  int64_t parameters = 0;  // elements, for the record
  int64_t total() const { return embeddings + layers + lm_head; }
};
// Bytes of one tensor the rank holds, as rank_weight_bytes counts them.
int64_t tensor_bytes(const TensorShape& t, NumberFormat weights);
// The dtype a matrix the rank holds is in (tables and layers differ for int8 / int4).
DType tensor_dtype(const TensorShape& t, NumberFormat weights);
// Matrices in `weights`; embeddings and LM head stay 16-bit when the layers are int8 / int4 (as
// load_in_8bit / load_in_4bit leave them); norms and biases f32, as the runtime keeps them.
WeightBytes rank_weight_bytes(const ModelSpec& spec, const RankPlace& place, NumberFormat weights);
// Parameters of the whole model (one rank, every tensor once).
int64_t parameter_count(const ModelSpec& spec);

}  // namespace shardlm::plan
