// MpiRuntime when MPI runs already, and the world of one that needs no MPI at all.
#include "parallel/mpi_runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "parallel/comm/local_communicator.h"
#include "runtime/core/check.h"
#include "tests/parallel/test_support.h"

namespace shardlm {
namespace {

TEST(MpiRuntime, JoinsTheRunningMpiAndKnowsItsPlace) {
  const MpiRuntime mpi;  // main() initialised MPI; this one must neither re-initialise nor finalise it
  ASSERT_TRUE(mpi.active());
  std::unique_ptr<Communicator> world = world_communicator();
  EXPECT_EQ(world->name(), "mpi");
  EXPECT_EQ(mpi.rank(), world->rank());
  EXPECT_EQ(mpi.size(), world->size());
  EXPECT_GE(mpi.local_rank(), 0);
  EXPECT_LT(mpi.local_rank(), mpi.local_size());
  EXPECT_LE(mpi.local_size(), mpi.size());
  // Under mpirun, a plain `shardlm` would have started MPI too; run alone it would not have.
  EXPECT_EQ(launched_by_mpirun(), std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr ||
                                      std::getenv("PMI_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr);
}

TEST(MpiRuntime, WorldConfigIsValidated) {
  const MpiRuntime mpi;
  const WorldConfig world = mpi.world_config(mpi.size(), 1);
  EXPECT_EQ(world.rank, mpi.rank());
  EXPECT_EQ(world.tp, mpi.size());
  EXPECT_THROW(mpi.world_config(mpi.size() + 1, 1), Error);
}

TEST(LocalCommunicator, CollectivesOfOneAreIdentities) {
  LocalCommunicator local;
  EXPECT_EQ(local.size(), 1);
  Tensor tensor = testing_support::host_tensor({3});
  for (int i = 0; i < 3; ++i) tensor.data_as<float>()[i] = static_cast<float>(i) + 0.25f;
  local.all_reduce(tensor);
  EXPECT_EQ(tensor.data_as<float>()[2], 2.25f);
  Tensor gathered = testing_support::host_tensor({3});
  local.all_gather(tensor, gathered);
  EXPECT_EQ(gathered.data_as<float>()[1], 1.25f);
  int value = 7;
  local.broadcast(&value, sizeof value, 0);
  EXPECT_EQ(value, 7);
  local.barrier();
}

TEST(LocalCommunicator, SaysThereIsNoPeer) {
  LocalCommunicator local;
  int value = 0;
  try {
    local.send(&value, sizeof value, 1);
    ADD_FAILURE() << "expected a shardlm::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("world of 1 (started without mpirun)"), std::string::npos) << error.what();
  }
  EXPECT_THROW(local.broadcast(&value, sizeof value, 1), Error);
  Tensor half = testing_support::host_tensor({2}, DType::bf16);
  EXPECT_THROW(local.all_reduce(half), Error);
}

}  // namespace
}  // namespace shardlm
