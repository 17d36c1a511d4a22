#include "runtime/model/weights/load_progress.h"

#include <cstdio>
#include <unistd.h>

namespace shardlm {

LoadProgress::LoadProgress(std::string what, int64_t total_tensors, size_t total_bytes)
    : what_(std::move(what)), total_tensors_(total_tensors), total_bytes_(total_bytes),
      enabled_(isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

LoadProgress::~LoadProgress() {
  if (enabled_ && done_tensors_ > 0) draw(true);
}

void LoadProgress::advance(size_t bytes) {
  ++done_tensors_;
  done_bytes_ += bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(200)) return;  // redrawing costs more than it tells
  last_draw_ = now;
  draw(false);
}

void LoadProgress::draw(bool final) {
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? done_bytes_ / seconds : 0;
  const double left = rate > 0 ? (total_bytes_ - done_bytes_) / rate : 0;
  std::fprintf(stderr, "\rloading %s: %lld/%lld tensors, %.2f/%.2f GB, %.0f MB/s, %s %.0f s   %s", what_.c_str(),
               static_cast<long long>(done_tensors_), static_cast<long long>(total_tensors_), done_bytes_ / 1e9,
               total_bytes_ / 1e9, rate / 1e6, final ? "took" : "left", final ? seconds : left, final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace shardlm
