// The NCCL communicator on GPUs, one per rank. Without a GPU per local rank every rank skips, and
// says why; in a build without NCCL the factory must say so.
#include "parallel/comm/nccl_communicator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parallel/comm/local_communicator.h"
#include "parallel/mpi_runtime.h"
#include "runtime/core/check.h"

#if SHARDLM_HAVE_NCCL
#include <cuda_runtime.h>
#endif

namespace shardlm {
namespace {

#if SHARDLM_HAVE_NCCL

// A GPU tensor of `count` floats holding `values` (when given).
Tensor device_tensor(size_t count, const std::vector<float>& values = {}) {
  void* data = nullptr;
  if (cudaMalloc(&data, count * sizeof(float)) != cudaSuccess) throw Error("cudaMalloc failed in the test");
  if (!values.empty()) cudaMemcpy(data, values.data(), count * sizeof(float), cudaMemcpyHostToDevice);
  std::shared_ptr<void> owner(data, [](void* p) { cudaFree(p); });
  return Tensor::view({static_cast<int64_t>(count)}, DType::f32, data, owner, Device::cuda);
}

std::vector<float> to_host(const Tensor& tensor) {
  std::vector<float> values(tensor.numel());
  cudaMemcpy(values.data(), tensor.data(), tensor.bytes(), cudaMemcpyDeviceToHost);
  return values;
}

class NcclCommunicatorTest : public testing::Test {
 protected:
  void SetUp() override {
    // Every rank must make the same choice, or the ranks that go on wait for the ones that skipped.
    const MpiRuntime mpi;
    int gpus = 0;
    const cudaError_t status = cudaGetDeviceCount(&gpus);
    if (status != cudaSuccess) gpus = 0;
    float unable = gpus < mpi.local_size() ? 1.0f : 0.0f;
    bootstrap->all_reduce(&unable, 1);
    if (unable > 0.0f) {
      GTEST_SKIP() << "needs one GPU per rank on each node; rank " << mpi.rank() << " sees " << gpus << " for "
                   << mpi.local_size() << " local rank(s)"
                   << (status != cudaSuccess ? std::string(" (") + cudaGetErrorString(status) + ")" : "");
    }
    comm = make_nccl_communicator(*bootstrap, mpi.local_rank());
  }

  std::unique_ptr<Communicator> bootstrap = world_communicator();
  std::unique_ptr<Communicator> comm;
};

TEST_F(NcclCommunicatorTest, AllReduceSums) {
  const size_t count = 4097;
  const int rank = comm->rank(), size = comm->size();
  Tensor tensor = device_tensor(count, std::vector<float>(count, static_cast<float>(rank + 1)));
  comm->all_reduce(tensor);
  const float expected = static_cast<float>(size * (size + 1) / 2);
  size_t wrong = 0;
  for (float value : to_host(tensor)) wrong += value != expected;
  EXPECT_EQ(wrong, 0u);
}

TEST_F(NcclCommunicatorTest, AllGatherBroadcastAndRing) {
  const int rank = comm->rank(), size = comm->size();
  Tensor input = device_tensor(2, {static_cast<float>(rank), static_cast<float>(rank) + 0.5f});
  Tensor output = device_tensor(2 * size);
  comm->all_gather(input, output);
  const std::vector<float> gathered = to_host(output);
  for (int r = 0; r < size; ++r) {
    EXPECT_EQ(gathered[2 * r], static_cast<float>(r));
    EXPECT_EQ(gathered[2 * r + 1], static_cast<float>(r) + 0.5f);
  }

  for (int root = 0; root < size; ++root) {
    Tensor value = device_tensor(1, {static_cast<float>(rank * 3)});
    comm->broadcast(value.data(), sizeof(float), root);
    EXPECT_EQ(to_host(value)[0], static_cast<float>(root * 3));
  }

  if (size >= 2) {
    Tensor outgoing = device_tensor(16, std::vector<float>(16, static_cast<float>(rank)));
    Tensor incoming = device_tensor(16);
    const int next = (rank + 1) % size, previous = (rank + size - 1) % size;
    if (rank % 2 == 0) {
      comm->send(outgoing.data(), outgoing.bytes(), next);
      comm->recv(incoming.data(), incoming.bytes(), previous);
    } else {
      comm->recv(incoming.data(), incoming.bytes(), previous);
      comm->send(outgoing.data(), outgoing.bytes(), next);
    }
    EXPECT_EQ(to_host(incoming)[15], static_cast<float>(previous));
  }
  comm->barrier();
}

TEST_F(NcclCommunicatorTest, RefusesHostMemory) {
  std::vector<float> host(4, 1.0f);
  EXPECT_THROW(comm->all_reduce(host.data(), host.size()), Error);
  Tensor host_tensor = Tensor::view({4}, DType::f32, host.data(), nullptr);
  EXPECT_THROW(comm->all_reduce(host_tensor), Error);
}

#else

TEST(NcclCommunicator, BuildWithoutNcclSaysSo) {
  EXPECT_FALSE(nccl_built());
  LocalCommunicator bootstrap;
  try {
    make_nccl_communicator(bootstrap, 0);
    ADD_FAILURE() << "expected a shardlm::Error";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("built without NCCL"), std::string::npos) << error.what();
  }
}

#endif

}  // namespace
}  // namespace shardlm
