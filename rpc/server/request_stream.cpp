#include "rpc/server/request_stream.h"

namespace shardlm::rpc {

void RequestStream::push(const std::string& text, int32_t token, std::optional<float> logprob) {
  {
    std::lock_guard lock(mutex_);
    pending_.text += text;
    pending_.tokens.push_back(token);
    if (logprob) pending_.logprobs.push_back(*logprob);
  }
  changed_.notify_all();
}

void RequestStream::push_text(const std::string& text) {
  if (text.empty()) return;
  {
    std::lock_guard lock(mutex_);
    pending_.text += text;
  }
  changed_.notify_all();
}

void RequestStream::end(StreamEnding ending) {
  {
    std::lock_guard lock(mutex_);
    if (ending_) return;
    ending_ = std::move(ending);
  }
  changed_.notify_all();
}

bool RequestStream::cancel_requested() const {
  std::lock_guard lock(mutex_);
  return cancel_;
}

void RequestStream::cancel() {
  std::lock_guard lock(mutex_);
  cancel_ = true;
}

std::optional<StreamEnding> RequestStream::wait(std::chrono::milliseconds timeout, StreamChunk& chunk) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return !pending_.empty() || ending_.has_value(); });
  chunk = std::move(pending_);
  pending_ = {};
  return ending_;
}

}  // namespace shardlm::rpc
