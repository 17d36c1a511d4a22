// What rank 0 broadcasts before each forward pass: the sequences of the step (tokens, first
// position, block table) split into micro-batches. Every rank runs the same plan on its share of
// the model; pipeline stages pass micro-batches on one after another, so stages overlap.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "parallel/comm/communicator.h"

namespace shardlm {

struct StepSequence {
  std::vector<int32_t> tokens;
  int64_t start_pos = 0;
  std::vector<int32_t> block_table;
};

struct StepPlan {
  bool end = false;                     // no more steps: followers return
  bool heartbeat = false;               // no forward pass: every rank answers an all-reduce, to show it is alive
  std::vector<StepSequence> sequences;
  std::vector<int64_t> micro_batch_ends;  // exclusive end index of each micro-batch in `sequences`

  // Rank 0 sends, the others receive (and get the same plan). Collective over `world`.
  void broadcast(Communicator& world, bool sender);
};

}  // namespace shardlm
