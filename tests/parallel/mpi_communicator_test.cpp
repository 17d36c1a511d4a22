// MpiCommunicator over all ranks: results checked against what the test computes itself. Every rank
// runs every collective unconditionally (checks come after), so a failed check on one rank cannot
// leave the others waiting.
#include "parallel/comm/mpi_communicator.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <string>

#include "runtime/core/check.h"
#include "tests/parallel/test_support.h"

namespace shardlm {
namespace {

using testing_support::host_tensor;
using testing_support::test_value;

class MpiCommunicatorTest : public testing::Test {
 protected:
  std::unique_ptr<MpiCommunicator> comm = mpi_world_communicator();
  int rank = comm->rank();
  int size = comm->size();
};

// The message of the shardlm::Error `action` throws; fails the test when it throws none.
template <typename Action>
std::string error_of(Action action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a shardlm::Error";
  return "";
}

class AllReduceSize : public MpiCommunicatorTest, public testing::WithParamInterface<size_t> {};

TEST_P(AllReduceSize, SumsEveryRanksValues) {
  const size_t count = GetParam();
  Tensor tensor = host_tensor({static_cast<int64_t>(count)});
  float* data = tensor.data_as<float>();
  for (size_t i = 0; i < count; ++i) data[i] = test_value(rank, i);

  comm->all_reduce(tensor);

  size_t wrong = 0, first_wrong = count;
  for (size_t i = 0; i < count; ++i) {
    float expected = 0.0f;
    for (int r = 0; r < size; ++r) expected += test_value(r, i);
    if (data[i] != expected) {
      if (wrong++ == 0) first_wrong = i;
    }
  }
  EXPECT_EQ(wrong, 0u) << "first wrong element " << first_wrong << " of " << count << " on rank " << rank;
}

INSTANTIATE_TEST_SUITE_P(Sizes, AllReduceSize, testing::Values(size_t{1}, size_t{7}, size_t{4097}, size_t{1} << 20));

TEST_F(MpiCommunicatorTest, AllReduceOfRawPointerMatchesTensorForm) {
  std::vector<float> values(33, static_cast<float>(rank + 1));
  comm->all_reduce(values.data(), values.size());
  const float expected = static_cast<float>(size * (size + 1) / 2);
  for (float value : values) EXPECT_EQ(value, expected);
}

TEST_F(MpiCommunicatorTest, AllGatherPutsRanksInOrder) {
  constexpr int64_t n = 5;
  Tensor input = host_tensor({n});
  for (int64_t i = 0; i < n; ++i) input.data_as<float>()[i] = static_cast<float>(rank * 100 + i);
  Tensor output = host_tensor({size * n});

  comm->all_gather(input, output);

  for (int r = 0; r < size; ++r) {
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(output.data_as<float>()[r * n + i], static_cast<float>(r * 100 + i));
  }
}

TEST_F(MpiCommunicatorTest, AllGatherMovesSixteenBitElementsAndGathersInPlace) {
  constexpr int64_t n = 3;
  Tensor output = host_tensor({size, n}, DType::bf16);
  // The input is this rank's row of the output itself.
  Tensor own_row = output.row(rank);
  for (int64_t i = 0; i < n; ++i) own_row.data_as<uint16_t>()[i] = static_cast<uint16_t>(rank * 10 + i);

  comm->all_gather(own_row, output);

  for (int r = 0; r < size; ++r) {
    for (int64_t i = 0; i < n; ++i) EXPECT_EQ(output.data_as<uint16_t>()[r * n + i], r * 10 + i);
  }
}

TEST_F(MpiCommunicatorTest, BroadcastFromEachRoot) {
  for (int root = 0; root < size; ++root) {
    std::vector<int32_t> values(1000);
    std::iota(values.begin(), values.end(), rank * 1000);
    comm->broadcast(values.data(), values.size() * sizeof(int32_t), root);
    size_t wrong = 0;
    for (size_t i = 0; i < values.size(); ++i) wrong += values[i] != root * 1000 + static_cast<int32_t>(i);
    EXPECT_EQ(wrong, 0u) << "broadcast from root " << root << " on rank " << rank;
  }
}

TEST_F(MpiCommunicatorTest, SendRecvAroundARing) {
  if (size < 2) GTEST_SKIP() << "a ring needs 2 ranks; run under mpirun";
  // 1 MiB: past the eager limit, so the rendezvous protocol is exercised too.
  const size_t count = size_t{1} << 18;
  std::vector<float> outgoing(count), incoming(count, -1.0f);
  for (size_t i = 0; i < count; ++i) outgoing[i] = test_value(rank, i);
  const int next = (rank + 1) % size;
  const int previous = (rank + size - 1) % size;
  const size_t bytes = count * sizeof(float);
  // A blocking send of a large message waits for its receive; if every rank sent first, none would
  // receive. Odd ranks receive first, which breaks the cycle for any size.
  if (rank % 2 == 0) {
    comm->send(outgoing.data(), bytes, next);
    comm->recv(incoming.data(), bytes, previous);
  } else {
    comm->recv(incoming.data(), bytes, previous);
    comm->send(outgoing.data(), bytes, next);
  }
  size_t wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += incoming[i] != test_value(previous, i);
  EXPECT_EQ(wrong, 0u) << "rank " << rank << " from rank " << previous;
}

TEST_F(MpiCommunicatorTest, BarrierReturnsOnEveryRank) { EXPECT_NO_THROW(comm->barrier()); }

TEST_F(MpiCommunicatorTest, RejectsWrongDtypeAndDevice) {
  Tensor half = host_tensor({4}, DType::f16);
  EXPECT_NE(error_of([&] { comm->all_reduce(half); }).find("sums f32 tensors; got f16[4]"), std::string::npos);

  // Never dereferenced: the device check comes first.
  float host_memory[4] = {};
  Tensor on_gpu = Tensor::view({4}, DType::f32, host_memory, nullptr, Device::cuda);
  EXPECT_NE(error_of([&] { comm->all_reduce(on_gpu); }).find("is on the GPU"), std::string::npos);

  Tensor input = host_tensor({4});
  Tensor too_small = host_tensor({4 * size - 1});
  EXPECT_NE(error_of([&] { comm->all_gather(input, too_small); }).find("must hold"), std::string::npos);
  Tensor other_dtype = host_tensor({4 * size}, DType::bf16);
  EXPECT_NE(error_of([&] { comm->all_gather(input, other_dtype); }).find("differ in dtype"), std::string::npos);
}

TEST_F(MpiCommunicatorTest, RejectsBadRanks) {
  int value = 0;
  EXPECT_NE(error_of([&] { comm->broadcast(&value, sizeof value, size); }).find("outside a group"), std::string::npos);
  EXPECT_NE(error_of([&] { comm->send(&value, sizeof value, rank); }).find("cannot send itself"), std::string::npos);
  EXPECT_NE(error_of([&] { comm->recv(&value, sizeof value, -1); }).find("outside a group"), std::string::npos);
}

TEST_F(MpiCommunicatorTest, MpiFailureBecomesAnErrorNamingCallAndRank) {
  if (size < 2) GTEST_SKIP() << "needs a peer; run under mpirun";
  // Rank 1 receives a 16-byte message into 8 bytes: MPI reports truncation, which must come back as
  // shardlm::Error rather than abort the job.
  double message[2] = {1.0, 2.0};
  if (rank == 0) comm->send(message, sizeof message, 1);
  if (rank == 1) {
    const std::string error = error_of([&] { comm->recv(message, sizeof(double), 0); });
    EXPECT_NE(error.find("MPI_Recv failed on rank 1 of"), std::string::npos) << error;
    EXPECT_NE(error.find("truncat"), std::string::npos) << error;
  }
  comm->barrier();
}

}  // namespace
}  // namespace shardlm
