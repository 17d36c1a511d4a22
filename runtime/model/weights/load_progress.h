// Progress of a checkpoint load on stderr: tensors, bytes, rate and time left. Only when stderr is a
// terminal (a 70B checkpoint takes minutes to read); silent in logs and pipes.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace shardlm {

class LoadProgress {
 public:
  LoadProgress(std::string what, int64_t total_tensors, size_t total_bytes);
  ~LoadProgress();  // ends the line it drew, if any
  void advance(size_t bytes);

 private:
  void draw(bool final);
  std::string what_;
  int64_t total_tensors_, done_tensors_ = 0;
  size_t total_bytes_, done_bytes_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace shardlm
