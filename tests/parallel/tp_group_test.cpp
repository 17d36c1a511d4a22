// Tensor-parallel sub-communicators and pipeline transfers, for every (tp, pp) that fits the job:
// at 4 ranks tp 2 x pp 2 among them, where a tp all-reduce must sum only its own stage's values.
#include <gtest/gtest.h>

#include <string>

#include "parallel/comm/stage_peers.h"
#include "parallel/mpi_runtime.h"
#include "runtime/core/check.h"
#include "tests/parallel/test_support.h"

namespace shardlm {
namespace {

using testing_support::factorisations;

WorldConfig this_world(int tp, int pp) {
  const MpiRuntime mpi;  // MPI runs already (main started it): this one only reads rank and size
  return mpi.world_config(tp, pp);
}

TEST(TpCommunicator, AllReduceSumsOnlyItsStage) {
  const int world_size = world_communicator()->size();
  for (const auto& [tp, pp] : factorisations(world_size)) {
    const WorldConfig world = this_world(tp, pp);
    std::unique_ptr<Communicator> group = tp_communicator(world);
    EXPECT_EQ(group->size(), tp) << world.describe();
    EXPECT_EQ(group->rank(), world.tp_rank()) << world.describe();

    // Each rank contributes (global rank + 1) at every position; the sum covers this stage's ranks only.
    std::vector<float> values(129, static_cast<float>(world.rank + 1));
    group->all_reduce(values.data(), values.size());
    float expected = 0.0f;
    for (int t = 0; t < tp; ++t) expected += static_cast<float>(world.rank_of(t, world.pp_rank()) + 1);
    size_t wrong = 0;
    for (float value : values) wrong += value != expected;
    EXPECT_EQ(wrong, 0u) << world.describe() << ": expected " << expected << ", first value " << values[0];
  }
}

TEST(TpCommunicator, GathersInTpRankOrder) {
  const int world_size = world_communicator()->size();
  for (const auto& [tp, pp] : factorisations(world_size)) {
    const WorldConfig world = this_world(tp, pp);
    std::unique_ptr<Communicator> group = tp_communicator(world);
    Tensor input = testing_support::host_tensor({1});
    input.data_as<float>()[0] = static_cast<float>(world.rank);
    Tensor output = testing_support::host_tensor({tp});
    group->all_gather(input, output);
    for (int t = 0; t < tp; ++t) {
      EXPECT_EQ(output.data_as<float>()[t], static_cast<float>(world.rank_of(t, world.pp_rank()))) << world.describe();
    }
  }
}

TEST(PipelinePeers, ActivationsFlowStageToStageThroughTheWorld) {
  std::unique_ptr<Communicator> everyone = world_communicator();
  for (const auto& [tp, pp] : factorisations(everyone->size())) {
    if (pp < 2) continue;
    const WorldConfig world = this_world(tp, pp);
    // Stage s receives from s-1 before sending to s+1: the order a forward pass runs in.
    std::vector<float> activation(64, -1.0f);
    const int previous = previous_stage_rank(world);
    const int next = next_stage_rank(world);
    if (previous >= 0) {
      everyone->recv(activation.data(), activation.size() * sizeof(float), previous);
      for (float value : activation) EXPECT_EQ(value, static_cast<float>(previous)) << world.describe();
    }
    std::fill(activation.begin(), activation.end(), static_cast<float>(world.rank));
    if (next >= 0) everyone->send(activation.data(), activation.size() * sizeof(float), next);
  }
}

TEST(TpCommunicator, RefusesAConfigOfAnotherWorld) {
  const int world_size = world_communicator()->size();
  const WorldConfig wrong{.rank = 0, .world = world_size + 1, .tp = world_size + 1, .pp = 1};
  try {
    tp_communicator(wrong);
    ADD_FAILURE() << "expected a shardlm::Error";
  } catch (const Error& error) {
    // The config itself is valid; the mismatch with the job is what must be named.
    EXPECT_NE(std::string(error.what()).find("does not match MPI"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace shardlm
