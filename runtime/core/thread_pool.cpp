#include "runtime/core/thread_pool.h"

#include <algorithm>
#include <sched.h>

#include "runtime/core/check.h"

namespace shardlm {

ThreadPool::ThreadPool(int threads) {
  SHARDLM_CHECK(threads >= 1, "thread count must be at least 1, got {}", threads);
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
}

static void chunk_bounds(int64_t count, int parts, int index, int64_t& begin, int64_t& end) {
  const int64_t base = count / parts, extra = count % parts;
  begin = index * base + std::min<int64_t>(index, extra);
  end = begin + base + (index < extra ? 1 : 0);
}

void ThreadPool::parallel_for(int64_t count, int64_t min_chunk,
                              const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  const int64_t useful = std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk));
  const int parts = static_cast<int>(std::min<int64_t>(size(), useful));
  if (parts == 1) {
    body(0, count);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    count_ = count;
    active_threads_ = parts;
    pending_ = parts - 1;
    ++generation_;
  }
  work_ready_.notify_all();
  int64_t begin, end;
  chunk_bounds(count, parts, 0, begin, end);
  body(begin, end);
  std::unique_lock lock(mutex_);
  work_done_.wait(lock, [this] { return pending_ == 0; });
  body_ = nullptr;
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock lock(mutex_);
    work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen; });
    if (stopping_) return;
    seen = generation_;
    if (index >= active_threads_) continue;
    const auto* body = body_;
    int64_t begin, end;
    chunk_bounds(count_, active_threads_, index, begin, end);
    lock.unlock();
    (*body)(begin, end);
    lock.lock();
    if (--pending_ == 0) work_done_.notify_one();
  }
}

int default_thread_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace shardlm
