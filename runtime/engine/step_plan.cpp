#include "runtime/engine/step_plan.h"

namespace shardlm {

void StepPlan::broadcast(Communicator& world, bool sender) {
  // Flattened into one int64 array: [kind (0 step, 1 end, 2 heartbeat), sequences, micro-batches, ends..., then per sequence
  // tokens, start, blocks, its tokens..., its blocks...]. Its length goes first.
  std::vector<int64_t> flat;
  if (sender) {
    flat = {end ? 1 : heartbeat ? 2 : 0, static_cast<int64_t>(sequences.size()), static_cast<int64_t>(micro_batch_ends.size())};
    flat.insert(flat.end(), micro_batch_ends.begin(), micro_batch_ends.end());
    for (const StepSequence& s : sequences) {
      flat.insert(flat.end(), {static_cast<int64_t>(s.tokens.size()), s.start_pos,
                               static_cast<int64_t>(s.block_table.size())});
      flat.insert(flat.end(), s.tokens.begin(), s.tokens.end());
      flat.insert(flat.end(), s.block_table.begin(), s.block_table.end());
    }
  }
  int64_t length = static_cast<int64_t>(flat.size());
  // The next plan may be long in coming (an idle server): its length is waited for politely.
  world.broadcast_after_wait(&length, sizeof(length), 0);
  flat.resize(length);
  world.broadcast(flat.data(), flat.size() * sizeof(int64_t), 0);
  if (sender) return;
  size_t at = 0;
  end = flat[at] == 1;
  heartbeat = flat[at++] == 2;
  sequences.assign(flat[at++], {});
  micro_batch_ends.assign(flat[at++], 0);
  for (int64_t& e : micro_batch_ends) e = flat[at++];
  for (StepSequence& s : sequences) {
    const int64_t tokens = flat[at++];
    s.start_pos = flat[at++];
    const int64_t blocks = flat[at++];
    s.tokens.assign(flat.begin() + at, flat.begin() + at + tokens);
    at += tokens;
    s.block_table.assign(flat.begin() + at, flat.begin() + at + blocks);
    at += blocks;
  }
}

}  // namespace shardlm
