// How a rank reaches the others while generating; a default-constructed one is a world of one.
#pragma once

#include "parallel/comm/communicator.h"
#include "parallel/world.h"

namespace shardlm {

struct RankLinks {
  WorldConfig world;
  Communicator* world_comm = nullptr;
};

}  // namespace shardlm
