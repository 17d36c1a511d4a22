#include "parallel/world.h"

#include <fmt/format.h>

#include "runtime/core/check.h"

namespace shardlm {

void WorldConfig::validate() const {
  SHARDLM_CHECK(tp >= 1 && pp >= 1, "--tp and --pp must be at least 1 (got tp {}, pp {})", tp, pp);
  SHARDLM_CHECK(tp * pp == world,
                "tp {} x pp {} = {} ranks, but the job has {} (start it with mpirun -np {}, or choose tp x pp = {})", tp,
                pp, tp * pp, world, tp * pp, world);
  SHARDLM_CHECK(rank >= 0 && rank < world, "rank {} is outside a world of {}", rank, world);
}

std::string WorldConfig::describe() const {
  return fmt::format("rank {} of {} (tp {} of {}, pp {} of {})", rank, world, tp_rank(), tp, pp_rank(), pp);
}

}  // namespace shardlm
