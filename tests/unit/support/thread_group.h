// A tensor-parallel group simulated with threads in one process: each thread is a rank with its own
// decoder, and all_reduce meets at a barrier. It tests the sharding arithmetic without MPI; the same
// decoders run over MPI in tests/parallel/.
#pragma once

#include <barrier>
#include <functional>
#include <thread>
#include <vector>

#include "parallel/comm/communicator.h"
#include "runtime/core/check.h"

namespace shardlm::testing {

class ThreadGroup {
 public:
  explicit ThreadGroup(int size) : size_(size), sync_(size), slots_(size) {}

  class Member final : public Communicator {
   public:
    Member(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int size() const override { return group_.size_; }
    std::string name() const override { return "threads"; }
    void all_reduce(Tensor& t) override { all_reduce(t.data_as<float>(), t.numel()); }
    void all_reduce(float* data, size_t count) override {
      group_.slots_[rank_] = data;
      group_.sync_.arrive_and_wait();
      std::vector<float> sum(count, 0.0f);
      for (int r = 0; r < group_.size_; ++r)  // every rank adds in rank order: identical results
        for (size_t i = 0; i < count; ++i) sum[i] += group_.slots_[r][i];
      group_.sync_.arrive_and_wait();
      std::copy(sum.begin(), sum.end(), data);
      group_.sync_.arrive_and_wait();
    }
    void all_gather(const Tensor&, Tensor&) override { SHARDLM_FAIL("not used by the decoder"); }
    void broadcast(void*, size_t, int) override { SHARDLM_FAIL("not used by the decoder"); }
    void send(const void*, size_t, int) override { SHARDLM_FAIL("not used by the decoder"); }
    void recv(void*, size_t, int) override { SHARDLM_FAIL("not used by the decoder"); }
    void barrier() override { group_.sync_.arrive_and_wait(); }

   private:
    ThreadGroup& group_;
    int rank_;
  };

  // Runs body(rank, communicator) on `size` threads and waits for all.
  void run(const std::function<void(int, Communicator&)>& body) {
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r)
      threads.emplace_back([this, r, &body] {
        Member member(*this, r);
        body(r, member);
      });
    for (auto& t : threads) t.join();
  }

 private:
  int size_;
  std::barrier<> sync_;
  std::vector<float*> slots_;
};

}  // namespace shardlm::testing
