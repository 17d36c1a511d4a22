// Rank 0's serving loop: the one thread that drives the engine (MPI is started FUNNELED, so it is
// the main thread). gRPC handler threads submit requests and read their streams; the loop admits
// them into the running batch at the next step (continuous batching across all clients), pushes
// each token's text, turns stop strings into stops, cancels what clients abandoned, and ends every
// stream with its usage and timings. While idle with other ranks, it sends heartbeats so that a lost
// rank is noticed (see RankWatchdog).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "rpc/server/request_stream.h"
#include "rpc/server/serving_metrics.h"
#include "runtime/engine/engine.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::rpc {

struct ServingRequest {
  GenerationRequest generation;
  std::vector<std::string> stop_strings;
};

struct ServingOptions {
  int64_t max_queue = 256;         // requests queued or running at once; more are refused at once
  double heartbeat_seconds = 1.0;  // idle time between heartbeats to the other ranks
};

// submit() when max_queue requests are already in flight.
class QueueFull : public std::runtime_error {
  using std::runtime_error::runtime_error;
};
// submit() after a failure or while shutting down.
class NotServing : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ServingLoop {
 public:
  using Clock = std::chrono::steady_clock;

  ServingLoop(Engine& engine, const Tokenizer& tokenizer, ServingMetrics& metrics, ServingOptions options);

  // Any thread. The request must already be valid (rpc/server/request_validation.h); what the engine
  // still refuses (a request larger than the whole KV pool) ends its stream with INVALID_ARGUMENT.
  std::shared_ptr<RequestStream> submit(ServingRequest request);

  // The main thread: steps the engine until shut_down() has drained every request.
  void run();
  // Any thread: refuse new requests; those in flight may finish for `drain`, then are cancelled.
  void shut_down(std::chrono::milliseconds drain);
  // Any thread (the watchdog): a rank is lost. Every stream ends with UNAVAILABLE and no request is
  // taken again; run() may never return, as it may be stuck in a collective with the lost rank.
  void fail(const std::string& reason);

  // Whether fail() was called.
  bool failed() const;
  // Empty while serving; otherwise why not.
  std::string not_serving_reason() const;
  // When the collective in progress (a step or a heartbeat) began; empty when none is.
  std::optional<Clock::time_point> busy_since() const;

 private:
  // A request the loop has given to the engine (touched by the loop thread only).
  struct Active {
    std::shared_ptr<RequestStream> stream;
    std::vector<std::string> stop_strings;
    std::unique_ptr<TokenTextStream> text;
    std::string held;  // text that could still become a stop string
    bool logprobs = false;
    bool stopped_by_text = false;
    int64_t prompt_tokens = 0, generated = 0;
    Clock::time_point arrival, admitted, first_token, last_token;
    bool was_admitted = false;
  };
  struct Incoming {
    ServingRequest request;
    std::shared_ptr<RequestStream> stream;
    Clock::time_point arrival;
  };

  void take_incoming();
  void drop_cancelled();
  void step();
  bool on_token(int64_t id, int32_t token);
  void end_finished();
  void end(int64_t id, StreamEnding ending, ServingMetrics::Outcome outcome);
  // Engine::step threw: the engine cannot step again. Ends every request with INTERNAL and fails.
  void engine_failed(const std::string& cause);
  void publish_gauges();
  void set_busy(bool busy);

  Engine& engine_;
  const Tokenizer& tokenizer_;
  ServingMetrics& metrics_;
  ServingOptions options_;
  std::unordered_map<int64_t, Active> active_;  // by engine request id
  Clock::time_point last_heartbeat_;

  mutable std::mutex mutex_;  // guards everything below
  std::condition_variable wake_;
  std::deque<Incoming> incoming_;
  std::vector<std::weak_ptr<RequestStream>> in_flight_;  // every stream not yet ended, for fail()
  int64_t in_flight_count_ = 0;
  std::string failure_;
  bool shutting_down_ = false;
  Clock::time_point drain_deadline_;
  std::optional<Clock::time_point> busy_since_;
};

}  // namespace shardlm::rpc
