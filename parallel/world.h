// Where this rank sits: rank -> (tp_rank, pp_rank). The only place that arithmetic lives.
#pragma once

#include <string>

namespace shardlm {

struct WorldConfig {
  int rank = 0;   // this process, 0 .. world - 1
  int world = 1;  // processes in the job (tp * pp)
  int tp = 1;     // tensor-parallel ranks per pipeline stage
  int pp = 1;     // pipeline stages

  // Ranks of one stage are adjacent, so a stage's tensor-parallel group stays within a node.
  int tp_rank() const { return rank % tp; }
  int pp_rank() const { return rank / tp; }
  // The global rank of (tp_rank, pp_rank).
  int rank_of(int tp_rank, int pp_rank) const { return pp_rank * tp + tp_rank; }
  bool is_coordinator() const { return rank == 0; }
  bool first_stage() const { return pp_rank() == 0; }
  bool last_stage() const { return pp_rank() == pp - 1; }

  // Throws unless tp * pp == world and 0 <= rank < world, saying what would work.
  void validate() const;
  std::string describe() const;  // "rank 3 of 4 (tp 1 of 2, pp 1 of 2)"
};

}  // namespace shardlm
