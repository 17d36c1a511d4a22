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
  // The generation is odd while the fields change (a seqlock write): a worker idle in the previous
  // job that reads them meanwhile sees the odd or the next value and reads again. Every worker
  // active in the previous job is done with them (pending_ reached 0).
  const uint64_t generation = generation_.load(std::memory_order_relaxed);
  generation_.store(generation + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  body_.store(&body, std::memory_order_relaxed);
  count_.store(count, std::memory_order_relaxed);
  active_threads_.store(parts, std::memory_order_relaxed);
  pending_.store(parts - 1, std::memory_order_relaxed);
  // seq_cst with the sleeper's increment of sleeping_ before it checks the generation: either it
  // sees this store and does not sleep, or this load sees it and the notify (under the mutex it
  // waits with) wakes it.
  generation_.store(generation + 2, std::memory_order_seq_cst);
  if (sleeping_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard lock(mutex_); }
    work_ready_.notify_all();
  }
  int64_t begin, end;
  chunk_bounds(count, parts, 0, begin, end);
  run_chunk(body, begin, end);
  // The workers must be done with `body` before it goes out of scope, even when a chunk threw.
  for (int checks = 1; pending_.load(std::memory_order_acquire) != 0; ++checks) {
    cpu_relax();
    if (checks % 256 == 0) std::this_thread::yield();  // a worker may be waiting for this core
  }
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
  for (int checks = 0; generation_.load(std::memory_order_acquire) == seen && !stopping_.load(std::memory_order_relaxed);
       ++checks) {
    // The clock is read every 64 checks: a check is a few pauses, so a new job is seen within
    // about a hundred nanoseconds. The yield costs little where every thread has its core, and
    // where threads outnumber cores (ranks sharing a machine) it lets the caller run instead.
    if (checks % 64 == 63) std::this_thread::yield();
    if (checks % 64 == 63 && std::chrono::steady_clock::now() > spin_until) {
      std::unique_lock lock(mutex_);
      sleeping_.fetch_add(1, std::memory_order_seq_cst);
      work_ready_.wait(lock, [&] {
        return stopping_.load(std::memory_order_seq_cst) || generation_.load(std::memory_order_seq_cst) != seen;
      });
      sleeping_.fetch_sub(1, std::memory_order_relaxed);
      break;
    }
    for (int i = 0; i < 4; ++i) cpu_relax();
  }
  return !stopping_.load(std::memory_order_relaxed);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  while (wait_for_work(seen)) {
    // A seqlock read: the fields belong to generation `seen` only if it is even (not being written)
    // and unchanged after reading them. If it moved on, the job read was one this worker had no part
    // in (a job with it active cannot end before it runs its chunk), so it reads the newer one.
    const std::function<void(int64_t, int64_t)>* body;
    int64_t count;
    int active;
    do {
      seen = generation_.load(std::memory_order_acquire);
      body = body_.load(std::memory_order_relaxed);
      count = count_.load(std::memory_order_relaxed);
      active = active_threads_.load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
    } while (seen % 2 != 0 || generation_.load(std::memory_order_relaxed) != seen);
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
