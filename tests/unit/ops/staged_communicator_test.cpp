// StagedCommunicator: device buffers reach the host collective through one copy out and one copy
// back, and only where the operation needs them (a broadcast's root sends, the others receive). A
// host "device" that counts its copies, and a host group whose all-reduce adds another rank's ones.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/ops/cpu_ops.h"
#include "runtime/ops/staged_communicator.h"

namespace shardlm {
namespace {

class CopyCountingOps final : public CpuOps {
 public:
  using CpuOps::CpuOps;
  void to_host(void* host, const void* device, size_t bytes) override {
    ++to_host_copies;
    CpuOps::to_host(host, device, bytes);
  }
  void from_host(void* device, const void* host, size_t bytes) override {
    ++from_host_copies;
    CpuOps::from_host(device, host, bytes);
  }
  int to_host_copies = 0, from_host_copies = 0;
};

// Rank `rank` of two, on the host: the other rank contributes ones to a sum and 7s to a broadcast.
class TwoRankHostGroup final : public Communicator {
 public:
  explicit TwoRankHostGroup(int rank) : rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return 2; }
  std::string name() const override { return "two-rank test group"; }
  void all_reduce(Tensor& tensor) override { all_reduce(tensor.data_as<float>(), tensor.numel()); }
  void all_reduce(float* data, size_t count) override {
    for (size_t i = 0; i < count; ++i) data[i] += 1.0f;
  }
  void all_gather(const Tensor& input, Tensor& output) override {
    std::memcpy(static_cast<char*>(output.data()) + rank_ * input.bytes(), input.data(), input.bytes());
    std::memset(static_cast<char*>(output.data()) + (1 - rank_) * input.bytes(), 0, input.bytes());
  }
  void broadcast(void* data, size_t bytes, int root) override {
    if (root != rank_) std::memset(data, 7, bytes);
  }
  void send(const void*, size_t bytes, int) override { sent += bytes; }
  void recv(void* data, size_t bytes, int) override { std::memset(data, 9, bytes); }
  void barrier() override {}
  size_t sent = 0;

 private:
  int rank_;
};

TEST(StagedCommunicator, AllReduceCopiesOutOnceAndBackOnce) {
  ThreadPool pool(1);
  CopyCountingOps ops(pool);
  TwoRankHostGroup group(0);
  StagedCommunicator staged(group, ops);
  std::vector<float> device = {1.5f, -2.0f, 0.0f};
  staged.all_reduce(device.data(), device.size());
  EXPECT_EQ(device, (std::vector<float>{2.5f, -1.0f, 1.0f}));
  EXPECT_EQ(ops.to_host_copies, 1);
  EXPECT_EQ(ops.from_host_copies, 1);
  EXPECT_EQ(staged.size(), 2);
}

TEST(StagedCommunicator, BroadcastCopiesOnlyWhereItMoves) {
  ThreadPool pool(1);
  for (int rank : {0, 1}) {
    CopyCountingOps ops(pool);
    TwoRankHostGroup group(rank);
    StagedCommunicator staged(group, ops);
    std::vector<unsigned char> device(5, 1);
    staged.broadcast(device.data(), device.size(), 0);
    EXPECT_EQ(ops.to_host_copies, rank == 0 ? 1 : 0) << "rank " << rank;
    EXPECT_EQ(ops.from_host_copies, rank == 0 ? 0 : 1) << "rank " << rank;
    EXPECT_EQ(device, std::vector<unsigned char>(5, rank == 0 ? 1 : 7)) << "rank " << rank;
  }
}

TEST(StagedCommunicator, GatherSendAndReceiveGoThroughTheHost) {
  ThreadPool pool(1);
  CopyCountingOps ops(pool);
  TwoRankHostGroup group(1);
  StagedCommunicator staged(group, ops);
  std::vector<float> in = {3.0f, 4.0f}, out(4, -1.0f);
  const Tensor input = Tensor::view({2}, DType::f32, in.data(), nullptr);
  Tensor output = Tensor::view({4}, DType::f32, out.data(), nullptr);
  staged.all_gather(input, output);
  EXPECT_EQ(out, (std::vector<float>{0.0f, 0.0f, 3.0f, 4.0f}));
  std::vector<unsigned char> buffer(3, 0);
  staged.send(buffer.data(), buffer.size(), 0);
  EXPECT_EQ(group.sent, 3u);
  staged.recv(buffer.data(), buffer.size(), 0);
  EXPECT_EQ(buffer, std::vector<unsigned char>(3, 9));
  EXPECT_EQ(ops.to_host_copies, 2);    // the gather's input, the send
  EXPECT_EQ(ops.from_host_copies, 2);  // the gather's output, the receive
}

}  // namespace
}  // namespace shardlm
