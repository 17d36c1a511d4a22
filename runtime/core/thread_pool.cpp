#include "runtime/core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <sched.h>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// How long an idle worker spins before sleeping: long enough to span the gap between the ops of a
// forward pass, short enough that an idle server does not burn a core.
constexpr auto kSpin = std::chrono::microseconds(200);

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void chunk_bounds(int64_t count, int parts, int index, int64_t& begin, int64_t& end) {
  const int64_t base = count / parts, extra = count % parts;
  begin = index * base + std::min<int64_t>(index, extra);
  end = begin + base + (index < extra ? 1 : 0);
}

}  // namespace

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

void ThreadPool::parallel_for(int64_t count, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body) {
  if (count <= 0) return;
  const int64_t useful = std::max<int64_t>(1, count / std::max<int64_t>(1, min_chunk));
  const int parts = static_cast<int>(std::min<int64_t>(size(), useful));
  if (parts == 1) {
    body(0, count);
    return;
  }
  {
    std::lock_guard lock(mutex_);  // orders the job's fields before the generation bump
    body_ = &body;
    count_ = count;
    active_threads_ = parts;
    pending_.store(parts - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleeping_.load(std::memory_order_acquire) > 0) work_ready_.notify_all();
  int64_t begin, end;
  chunk_bounds(count, parts, 0, begin, end);
  run_chunk(body, begin, end);
  // The workers must be done with `body` before it goes out of scope, even when a chunk threw.
  while (pending_.load(std::memory_order_acquire) != 0) cpu_relax();
  std::exception_ptr error;
  {
    std::lock_guard lock(error_mutex_);
    error = std::exchange(first_error_, nullptr);
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::run_chunk(const std::function<void(int64_t, int64_t)>& body, int64_t begin, int64_t end) noexcept {
  try {
    body(begin, end);
  } catch (...) {
    std::lock_guard lock(error_mutex_);
    if (!first_error_) first_error_ = std::current_exception();
  }
}

bool ThreadPool::wait_for_work(uint64_t seen) {
  const auto spin_until = std::chrono::steady_clock::now() + kSpin;
  while (generation_.load(std::memory_order_acquire) == seen && !stopping_.load(std::memory_order_relaxed)) {
    if (std::chrono::steady_clock::now() > spin_until) {
      std::unique_lock lock(mutex_);
      sleeping_.fetch_add(1, std::memory_order_acq_rel);
      work_ready_.wait(lock, [&] { return stopping_ || generation_.load(std::memory_order_acquire) != seen; });
      sleeping_.fetch_sub(1, std::memory_order_acq_rel);
      break;
    }
    for (int i = 0; i < 64; ++i) cpu_relax();
  }
  return !stopping_.load(std::memory_order_relaxed);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (wait_for_work(seen)) {
    const std::function<void(int64_t, int64_t)>* body;
    int64_t count;
    int active;
    {
      std::lock_guard lock(mutex_);
      seen = generation_.load(std::memory_order_acquire);
      body = body_;
      count = count_;
      active = active_threads_;
    }
    if (index >= active) continue;
    int64_t begin, end;
    chunk_bounds(count, active, index, begin, end);
    run_chunk(*body, begin, end);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

int default_thread_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace shardlm
