#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/core/thread_pool.h"

namespace shardlm {
namespace {

TEST(ThreadPool, EveryIndexRunsExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (int64_t count : {0, 1, 2, 7, 64, 1001}) {
      for (int64_t min_chunk : {1, 16}) {
        std::vector<std::atomic<int>> hits(count);
        pool.parallel_for(count, min_chunk, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) hits[i]++;
        });
        for (int64_t i = 0; i < count; ++i) ASSERT_EQ(hits[i].load(), 1) << threads << " threads, count " << count;
      }
    }
  }
}

// Jobs back to back that use only some of the workers: an idle worker reads the next job's fields
// while the caller may be writing them (the pool publishes jobs without a lock), so a torn read would
// run a chunk twice or run one from a job that did not include that worker.
TEST(ThreadPool, JobsBackToBackWithIdleWorkersRunEachIndexOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(4);
  for (int job = 0; job < 20000; ++job) {
    const int64_t count = 2 + job % 3;  // 2, 3 or 4 chunks of one index
    for (auto& hit : hits) hit = 0;
    pool.parallel_for(count, 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < 4; ++i) ASSERT_EQ(hits[i].load(), i < count ? 1 : 0) << "job " << job << ", index " << i;
  }
}

TEST(ThreadPool, UsesSeveralThreadsForLargeRanges) {
  ThreadPool pool(2);
  std::atomic<int> chunks{0};
  pool.parallel_for(1000, 1, [&](int64_t, int64_t) { chunks++; });
  EXPECT_EQ(chunks.load(), 2);
  chunks = 0;
  pool.parallel_for(10, 100, [&](int64_t, int64_t) { chunks++; });  // too small to be worth a second thread
  EXPECT_EQ(chunks.load(), 1);
}

// The caller's chunk throws while a worker's chunk is still running: parallel_for must wait for the
// worker (its body refers to this frame) before the exception reaches the caller.
TEST(ThreadPool, CallersExceptionWaitsForTheWorkers) {
  ThreadPool pool(4);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> workers_done{0};
  try {
    pool.parallel_for(4, 1, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() == caller) throw std::runtime_error("caller's chunk failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      workers_done++;
    });
    FAIL() << "the exception was lost";
  } catch (const std::runtime_error& error) {
    EXPECT_STREQ(error.what(), "caller's chunk failed");
    EXPECT_EQ(workers_done.load(), 3) << "parallel_for returned while workers still ran its body";
  }
}

// A worker's exception reaches the caller (instead of std::terminate), and when several chunks throw,
// the first to throw wins.
TEST(ThreadPool, WorkersExceptionReachesTheCallerFirstOneWins) {
  ThreadPool pool(2);
  const auto caller = std::this_thread::get_id();
  try {
    pool.parallel_for(2, 1, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() != caller) throw std::invalid_argument("worker's chunk failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      throw std::runtime_error("caller's chunk failed later");
    });
    FAIL() << "the exception was lost";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "worker's chunk failed");
  }
  // The pool still works, and the old exception does not come back.
  std::vector<std::atomic<int>> hits(100);
  pool.parallel_for(100, 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) hits[i]++;
  });
  for (auto& hit : hits) EXPECT_EQ(hit.load(), 1);
}

TEST(ThreadPool, RejectsZeroThreads) { EXPECT_THROW(ThreadPool(0), std::runtime_error); }

}  // namespace
}  // namespace shardlm
