// A fixed set of worker threads that split a range of indices among themselves and the caller.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace shardlm {

class ThreadPool {
 public:
  // threads counts the caller: ThreadPool(1) starts no worker and runs everything inline.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls body(begin, end) on disjoint chunks covering [0, count), at most one chunk per thread,
  // and returns when all are done. Ranges shorter than min_chunk per thread use fewer threads,
  // because handing work to another thread costs time that small ops cannot repay. When chunks
  // throw, it still waits for every other chunk to finish, then rethrows the first exception.
  void parallel_for(int64_t count, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& body);

 private:
  void worker_loop(int index);
  bool wait_for_work(uint64_t seen);
  // Runs one chunk; an exception is kept (the first one only) instead of escaping the thread.
  void run_chunk(const std::function<void(int64_t, int64_t)>& body, int64_t begin, int64_t end) noexcept;

  std::vector<std::thread> workers_;
  // A decode step issues hundreds of parallel_for calls microseconds apart; waking a sleeping
  // thread costs ~50 us, so workers spin briefly on `generation_` before sleeping on the condition.
  // The job is published without a lock (its fields, then the generation bump), because a worker
  // that saw the bump and then blocked on a mutex the caller still held would sleep in the kernel
  // and cost that wake-up on every op. Workers read the fields as a seqlock (see worker_loop).
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleeping_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;  // only for sleeping on work_ready_
  std::condition_variable work_ready_;
  std::atomic<const std::function<void(int64_t, int64_t)>*> body_{nullptr};
  std::atomic<int64_t> count_{0};
  std::atomic<int> active_threads_{0};
  std::mutex error_mutex_;
  std::exception_ptr first_error_;  // of the parallel_for in progress
};

// Threads to use when the user gives none: the cores this process may run on.
int default_thread_count();

}  // namespace shardlm
