#include <gtest/gtest.h>

#include <atomic>
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

TEST(ThreadPool, UsesSeveralThreadsForLargeRanges) {
  ThreadPool pool(2);
  std::atomic<int> chunks{0};
  pool.parallel_for(1000, 1, [&](int64_t, int64_t) { chunks++; });
  EXPECT_EQ(chunks.load(), 2);
  chunks = 0;
  pool.parallel_for(10, 100, [&](int64_t, int64_t) { chunks++; });  // too small to be worth a second thread
  EXPECT_EQ(chunks.load(), 1);
}

TEST(ThreadPool, RejectsZeroThreads) { EXPECT_THROW(ThreadPool(0), std::runtime_error); }

}  // namespace
}  // namespace shardlm
