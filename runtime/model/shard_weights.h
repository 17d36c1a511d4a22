// Cuts a model down to one tensor-parallel rank's share (parallel/shard.h says which heads and FFN
// columns). Column-parallel layers (q, k, v, MLP up and gate) keep their rows: a view of the
// checkpoint, nothing copied. Row-parallel layers (attention output, MLP down) keep their input
// columns: copied, reading only those bytes; their bias is kept whole and added once, after the
// all-reduce. Norms, embeddings and the LM head are replicated (see shard_weights.cpp for the cost).
#pragma once

#include "parallel/pipeline.h"
#include "parallel/shard.h"
#include "runtime/model/model_weights.h"

namespace shardlm {

// The local spec says the rank's head, KV head and FFN counts; fused QKV becomes separate q, k, v.
// Takes `full` by value: once the rank's LM head rows are copied out, its whole LM head is let go
// before any layer is cut (a repacked k-quant head is freed then, if nothing else holds it).
LoadedModel shard_model(LoadedModel full, const TensorParallelShard& shard);

// A pipeline stage's part: its layers only (the local spec's layer count is theirs), the embeddings
// on the first stage, the final norm and LM head on the last.
LoadedModel stage_model(const LoadedModel& model, const StageLayers& layers, bool first_stage, bool last_stage);

}  // namespace shardlm
