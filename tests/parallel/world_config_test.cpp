// Rank arithmetic of WorldConfig and the pipeline neighbours built on it. Plain arithmetic: the same
// on every rank, no communication.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "parallel/comm/stage_peers.h"
#include "parallel/world.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

class WorldLayout : public testing::TestWithParam<std::pair<int, int>> {};

TEST_P(WorldLayout, EveryRankHasOneDistinctPlace) {
  const auto [tp, pp] = GetParam();
  std::set<std::pair<int, int>> places;
  for (int rank = 0; rank < tp * pp; ++rank) {
    const WorldConfig world{.rank = rank, .world = tp * pp, .tp = tp, .pp = pp};
    EXPECT_NO_THROW(world.validate());
    EXPECT_GE(world.tp_rank(), 0);
    EXPECT_LT(world.tp_rank(), tp);
    EXPECT_GE(world.pp_rank(), 0);
    EXPECT_LT(world.pp_rank(), pp);
    EXPECT_EQ(world.rank_of(world.tp_rank(), world.pp_rank()), rank);
    // A stage's ranks are adjacent, so a tensor-parallel group stays on one node.
    EXPECT_EQ(world.pp_rank(), rank / tp);
    EXPECT_EQ(world.first_stage(), world.pp_rank() == 0);
    EXPECT_EQ(world.last_stage(), world.pp_rank() == pp - 1);
    EXPECT_EQ(world.is_coordinator(), rank == 0);
    places.emplace(world.tp_rank(), world.pp_rank());
  }
  EXPECT_EQ(places.size(), static_cast<size_t>(tp * pp));
}

TEST_P(WorldLayout, StageNeighboursShareTheTpRank) {
  const auto [tp, pp] = GetParam();
  for (int rank = 0; rank < tp * pp; ++rank) {
    const WorldConfig world{.rank = rank, .world = tp * pp, .tp = tp, .pp = pp};
    const int previous = previous_stage_rank(world);
    const int next = next_stage_rank(world);
    if (world.first_stage()) {
      EXPECT_EQ(previous, -1);
    } else {
      EXPECT_EQ(previous, rank - tp);
    }
    if (world.last_stage()) {
      EXPECT_EQ(next, -1);
    } else {
      EXPECT_EQ(next, rank + tp);
      const WorldConfig receiver{.rank = next, .world = tp * pp, .tp = tp, .pp = pp};
      EXPECT_EQ(receiver.tp_rank(), world.tp_rank());
      EXPECT_EQ(previous_stage_rank(receiver), rank);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layouts, WorldLayout,
                         testing::Values(std::pair{1, 1}, std::pair{2, 1}, std::pair{1, 2}, std::pair{2, 2},
                                         std::pair{4, 2}, std::pair{2, 4}, std::pair{8, 2}, std::pair{3, 5}),
                         [](const auto& info) {
                           return fmt::format("tp{}_pp{}", info.param.first, info.param.second);
                         });

TEST(WorldConfig, DescribeNamesBothCoordinates) {
  const WorldConfig world{.rank = 3, .world = 4, .tp = 2, .pp = 2};
  EXPECT_EQ(world.describe(), "rank 3 of 4 (tp 1 of 2, pp 1 of 2)");
}

// The message of the error `world` raises on validation (empty when it raises none).
std::string validation_error(const WorldConfig& world) {
  try {
    world.validate();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

TEST(WorldConfig, ValidateSaysWhatWouldWork) {
  const std::string mismatch = validation_error({.rank = 0, .world = 2, .tp = 2, .pp = 2});
  EXPECT_NE(mismatch.find("tp 2 x pp 2 = 4 ranks, but the job has 2"), std::string::npos) << mismatch;
  EXPECT_NE(mismatch.find("mpirun -np 4"), std::string::npos) << mismatch;

  const std::string zero = validation_error({.rank = 0, .world = 1, .tp = 0, .pp = 1});
  EXPECT_NE(zero.find("--tp and --pp must be at least 1"), std::string::npos) << zero;

  const std::string outside = validation_error({.rank = 4, .world = 4, .tp = 2, .pp = 2});
  EXPECT_NE(outside.find("rank 4 is outside a world of 4"), std::string::npos) << outside;

  EXPECT_EQ(validation_error({.rank = 5, .world = 8, .tp = 4, .pp = 2}), "");
}

}  // namespace
}  // namespace shardlm
