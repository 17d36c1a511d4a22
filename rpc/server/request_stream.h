// What passes between a gRPC handler thread and the serving loop for one request: the loop pushes
// tokens and, once, an ending; the handler waits for them and may ask for the request to be
// cancelled (client gone, deadline passed). Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"

namespace shardlm::rpc {

struct StreamChunk {
  std::string text;
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;  // one per token when the request asked for them
  bool empty() const { return text.empty() && tokens.empty(); }
};

// How a request ended. `error` set: it failed (the status code says how), otherwise `reason` says why.
struct StreamEnding {
  enum class Error { none, unavailable, resource_exhausted, invalid_argument, internal };
  Error error = Error::none;
  std::string message;
  FinishReason reason = FinishReason::none;
  int64_t prompt_tokens = 0, completion_tokens = 0, cached_prompt_tokens = 0;
  double queue_ms = 0, prefill_ms = 0, decode_ms = 0, time_to_first_token_ms = 0;
};

class RequestStream {
 public:
  // Loop side.
  void push(const std::string& text, int32_t token, std::optional<float> logprob);
  void push_text(const std::string& text);
  // The first ending wins; later ones (a watchdog racing the loop) are ignored.
  void end(StreamEnding ending);
  bool cancel_requested() const;

  // Handler side: waits up to `timeout` for news, and takes what has arrived since the last call.
  // Returns the ending once everything before it has been taken.
  std::optional<StreamEnding> wait(std::chrono::milliseconds timeout, StreamChunk& chunk);
  void cancel();

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  StreamChunk pending_;
  std::optional<StreamEnding> ending_;
  bool cancel_ = false;
};

}  // namespace shardlm::rpc
