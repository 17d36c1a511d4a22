// One layout's plan: memory per rank (weights, KV cache, activations, communication, overhead, and
// for a CPU process the mapped checkpoint and what loading holds at once) and speed by roofline
// (prefill by FLOPs, decode by bytes read, tensor-parallel all-reduces and pipeline transfers by link
// bandwidth, the pipeline bubble). The formulas are the runtime's: KV from kv_budget.h, shards from
// parallel/, activations from the decoder's scratch buffers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/model/model_spec.h"
#include "runtime/plan/checkpoint_load.h"
#include "runtime/plan/hardware.h"
#include "runtime/plan/rank_weights.h"
#include "runtime/plan/workload.h"

namespace shardlm::plan {

struct RankMemory {
  int rank = 0, tp_rank = 0, pp_rank = 0;
  int64_t layers = 0, kv_heads = 0;
  WeightBytes weights;
  int64_t kv_bytes_per_token = 0;
  int64_t kv_blocks = 0;  // the pool the engine would allocate
  int64_t kv_bytes = 0;
  int64_t activation_bytes = 0;  // the decoder's scratch and the step's logits at the largest step
  int64_t ops_scratch_bytes = 0;  // of which a GPU's ops' own scratch (bf16 inputs, dequantized rows)
  int64_t comm_bytes = 0;        // pipeline send/receive buffers and the collective library's own
  int64_t overhead_bytes = 0;    // runtime (context, binary, libraries, stacks)
  // CPU process only (zero otherwise).
  int64_t mapped_file_bytes = 0;  // file pages of the views the rank reads
  int64_t tokenizer_bytes = 0;
  int64_t load_peak_bytes = 0;  // while loading: k-quants repacked whole with the cut copies, or the share as it ends up
  int64_t run_bytes = 0;        // while running
  int64_t peak_bytes = 0;       // the larger of the two: what the rank needs
  int64_t free_bytes = 0;       // memory left at peak (negative: does not fit)
  int64_t kv_tokens_fit = 0;    // tokens of K/V the memory left after everything else holds
  int64_t sequences_fit = 0;    // of --context tokens each
};

struct Speed {
  double prefill_s = 0;      // one prompt, alone
  double decode_step_s = 0;  // one token for every sequence (inter-token latency)
  double tp_comm_s = 0;      // all-reduces within one decode step
  double pp_transfer_s = 0;  // stage hand-offs within one decode step
  double bubble = 0;         // idle fraction of pipeline stages in a decode step
  double ttft_s = 0;
  double itl_s = 0;
  double decode_tokens_per_s = 0;  // concurrency / ITL
  double throughput = 0;           // generated tokens/s including each request's prefill
  bool memory_bound = true;
};

struct Plan {
  Layout layout;
  Workload workload;
  int64_t context = 0;
  int threads = 0;
  std::vector<RankMemory> ranks;
  bool fits = false;
  std::string why_not;  // when it does not fit
  Speed speed;
  const RankMemory& largest() const;
};

// Throws when the model cannot take the layout (more ranks than heads, more stages than layers),
// naming the flag.
Plan make_plan(const ModelSpec& spec, const Hardware& hardware, const Layout& layout, const Workload& workload,
               const CheckpointLoad& load = {});

// Speed alone at another concurrency (for throughput curves).
Speed plan_speed(const ModelSpec& spec, const Hardware& hardware, const Plan& plan, int64_t concurrency);

}  // namespace shardlm::plan
