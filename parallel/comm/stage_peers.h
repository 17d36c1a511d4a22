// Pipeline neighbours: the ranks a stage receives activations from and sends them to. Transfers go
// through the world communicator (send/recv take global ranks), pairing equal tp_ranks of adjacent
// stages so each tensor-parallel rank hands its shard to its counterpart.
#pragma once

#include "parallel/world.h"

namespace shardlm {

// The global rank holding the same tp_rank one stage earlier; -1 on the first stage.
inline int previous_stage_rank(const WorldConfig& world) {
  return world.first_stage() ? -1 : world.rank_of(world.tp_rank(), world.pp_rank() - 1);
}

// The global rank holding the same tp_rank one stage later; -1 on the last stage.
inline int next_stage_rank(const WorldConfig& world) {
  return world.last_stage() ? -1 : world.rank_of(world.tp_rank(), world.pp_rank() + 1);
}

}  // namespace shardlm
