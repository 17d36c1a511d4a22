// f32 all-reduce bandwidth, 4 KB .. 64 MB in powers of 4, in the nccl-tests convention:
//   algbw = bytes / time, busbw = algbw * 2 (n - 1) / n
// (busbw is what each rank's link carries in a ring all-reduce, so it compares across rank counts).
// Time is the mean over ranks of the mean per call, after warm-up calls. Rank 0 prints.
//   usage: mpirun -np 2 shardlm_allreduce_bench [--nccl] [--warmup N] [--iters N]
//   --nccl: GPU buffers through the NCCL communicator (device = local rank); default: host, MPI
//   --iters N: timed calls per size (default: enough for about 1 GB moved, between 10 and 1000)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "parallel/comm/nccl_communicator.h"
#include "parallel/mpi_runtime.h"
#include "runtime/core/check.h"

#if SHARDLM_HAVE_NCCL
#include <cuda_runtime.h>
#endif

namespace {

using namespace shardlm;

struct Options {
  bool nccl = false;
  int warmup = 5;
  int iters = 0;  // 0: chosen per size
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--nccl") {
      options.nccl = true;
    } else if ((arg == "--warmup" || arg == "--iters") && i + 1 < argc) {
      (arg == "--warmup" ? options.warmup : options.iters) = std::atoi(argv[++i]);
    } else {
      SHARDLM_FAIL("unknown argument '{}'; usage: shardlm_allreduce_bench [--nccl] [--warmup N] [--iters N]", arg);
    }
  }
  return options;
}

// Where the floats live: host memory for MPI, device memory for NCCL.
class Buffer {
 public:
  Buffer(size_t count, bool on_gpu) : count_(count), on_gpu_(on_gpu) {
    if (!on_gpu_) {
      host_.resize(count);
      return;
    }
#if SHARDLM_HAVE_NCCL
    SHARDLM_CHECK(cudaMalloc(reinterpret_cast<void**>(&device_), count * sizeof(float)) == cudaSuccess,
                  "cudaMalloc of {} bytes failed", count * sizeof(float));
#endif
  }
  ~Buffer() {
#if SHARDLM_HAVE_NCCL
    if (device_ != nullptr) cudaFree(device_);
#endif
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  float* data() { return on_gpu_ ? device_ : host_.data(); }
  void fill(float value) {
    std::vector<float> values(count_, value);
    if (!on_gpu_) {
      host_ = std::move(values);
      return;
    }
#if SHARDLM_HAVE_NCCL
    cudaMemcpy(device_, values.data(), count_ * sizeof(float), cudaMemcpyHostToDevice);
#endif
  }
  float first() {
    if (!on_gpu_) return host_[0];
    float value = 0.0f;
#if SHARDLM_HAVE_NCCL
    cudaMemcpy(&value, device_, sizeof(float), cudaMemcpyDeviceToHost);
#endif
    return value;
  }

 private:
  size_t count_;
  bool on_gpu_;
  std::vector<float> host_;
  float* device_ = nullptr;
};

// Seconds per call on this rank, after `warmup` untimed calls.
double seconds_per_call(Communicator& comm, Buffer& buffer, size_t count, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) comm.all_reduce(buffer.data(), count);
  comm.barrier();  // start the clocks together
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) comm.all_reduce(buffer.data(), count);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / iters;
}

std::string human_bytes(size_t bytes) {
  if (bytes >= (size_t{1} << 20)) return std::to_string(bytes >> 20) + " MB";
  return std::to_string(bytes >> 10) + " KB";
}

int run(const MpiRuntime& mpi, const Options& options) {
  std::unique_ptr<Communicator> world = world_communicator();
  std::unique_ptr<Communicator> comm =
      options.nccl ? make_nccl_communicator(*world, mpi.local_rank()) : world_communicator();
  const int n = comm->size();
  if (mpi.rank() == 0) {
    std::printf("f32 all-reduce over %s, %d rank(s); time = mean over ranks of the mean per call\n",
                comm->name().c_str(), n);
    std::printf("%10s %10s %7s %12s %13s %13s\n", "size", "floats", "iters", "time (us)", "algbw (GB/s)",
                "busbw (GB/s)");
  }
  for (size_t bytes = size_t{4} << 10; bytes <= size_t{64} << 20; bytes *= 4) {
    const size_t count = bytes / sizeof(float);
    Buffer buffer(count, options.nccl);
    // One checked call first: a benchmark of a wrong all-reduce measures nothing.
    buffer.fill(1.0f);
    comm->all_reduce(buffer.data(), count);
    SHARDLM_CHECK(buffer.first() == static_cast<float>(n), "all-reduce of ones over {} ranks gave {}", n,
                  buffer.first());
    // Zeros stay zeros, so repeated sums never reach infinities or slow paths.
    buffer.fill(0.0f);
    const int iters =
        options.iters > 0 ? options.iters : static_cast<int>(std::clamp<size_t>((size_t{1} << 30) / bytes, 10, 1000));
    float seconds = static_cast<float>(seconds_per_call(*comm, buffer, count, options.warmup, iters));
    world->all_reduce(&seconds, 1);  // the world communicator is on the host, whichever comm is measured
    seconds /= static_cast<float>(world->size());
    const double algbw = static_cast<double>(bytes) / seconds / 1e9;
    const double busbw = algbw * 2.0 * (n - 1) / n;
    if (mpi.rank() == 0) {
      std::printf("%10s %10zu %7d %12.1f %13.3f %13.3f\n", human_bytes(bytes).c_str(), count, iters, seconds * 1e6,
                  algbw, busbw);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  shardlm::MpiRuntime mpi(shardlm::MpiStart::always, &argc, &argv);
  try {
    return run(mpi, parse(argc, argv));
  } catch (const shardlm::Error& error) {
    std::fprintf(stderr, "rank %d: %s\n", mpi.rank(), error.what());
    mpi.abort(1);  // the other ranks may be waiting in a collective for this one
  }
}
