#include "rpc/server/serving_loop.h"

#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

#include "runtime/engine/stop_text.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::rpc {

namespace {

double ms_between(ServingLoop::Clock::time_point from, ServingLoop::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

ServingMetrics::Outcome outcome_of(FinishReason reason) {
  switch (reason) {
    case FinishReason::length: return ServingMetrics::Outcome::length;
    case FinishReason::stop: return ServingMetrics::Outcome::stop;
    case FinishReason::error: return ServingMetrics::Outcome::error;
    default: return ServingMetrics::Outcome::cancelled;
  }
}

}  // namespace

ServingLoop::ServingLoop(Engine& engine, const Tokenizer& tokenizer, ServingMetrics& metrics, ServingOptions options)
    : engine_(engine), tokenizer_(tokenizer), metrics_(metrics), options_(options), last_heartbeat_(Clock::now()) {
  publish_gauges();
}

std::shared_ptr<RequestStream> ServingLoop::submit(ServingRequest request) {
  auto stream = std::make_shared<RequestStream>();
  {
    std::lock_guard lock(mutex_);
    if (!failure_.empty()) throw NotServing(failure_);
    if (shutting_down_) throw NotServing("the server is shutting down");
    if (in_flight_count_ >= options_.max_queue) {
      metrics_.request_ended(ServingMetrics::Outcome::rejected);
      throw QueueFull(fmt::format("the server holds its limit of {} requests (max_queue); try again later",
                                  options_.max_queue));
    }
    ++in_flight_count_;
    std::erase_if(in_flight_, [](const std::weak_ptr<RequestStream>& s) { return s.expired(); });
    in_flight_.push_back(stream);
    incoming_.push_back({std::move(request), stream, Clock::now()});
  }
  wake_.notify_all();
  return stream;
}

void ServingLoop::shut_down(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mutex_);
    if (!shutting_down_) drain_deadline_ = Clock::now() + drain;
    shutting_down_ = true;
  }
  wake_.notify_all();
}

void ServingLoop::fail(const std::string& reason) {
  std::vector<std::shared_ptr<RequestStream>> streams;
  {
    std::lock_guard lock(mutex_);
    if (!failure_.empty()) return;
    failure_ = reason;
    for (const auto& weak : in_flight_)
      if (auto stream = weak.lock()) streams.push_back(stream);
  }
  ServingGauges gauges = metrics_.gauges();
  gauges.serving = false;
  metrics_.gauges(gauges);
  for (const auto& stream : streams) {
    StreamEnding ending;
    ending.error = StreamEnding::Error::unavailable;
    ending.message = reason;
    stream->end(ending);
  }
  wake_.notify_all();
}

bool ServingLoop::failed() const {
  std::lock_guard lock(mutex_);
  return !failure_.empty();
}

std::string ServingLoop::not_serving_reason() const {
  std::lock_guard lock(mutex_);
  if (!failure_.empty()) return failure_;
  if (shutting_down_) return "the server is shutting down";
  return "";
}

std::optional<ServingLoop::Clock::time_point> ServingLoop::busy_since() const {
  std::lock_guard lock(mutex_);
  return busy_since_;
}

void ServingLoop::set_busy(bool busy) {
  std::lock_guard lock(mutex_);
  if (busy) {
    busy_since_ = Clock::now();
  } else {
    busy_since_.reset();
  }
}

void ServingLoop::run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (!failure_.empty()) return;  // the ranks are gone: nothing can be stepped any more
      if (shutting_down_ && in_flight_count_ == 0 && incoming_.empty()) return;
    }
    take_incoming();
    drop_cancelled();
    bool draining_over = false;
    {
      std::lock_guard lock(mutex_);
      draining_over = shutting_down_ && Clock::now() >= drain_deadline_;
    }
    if (draining_over) {
      // Whatever is still running is cancelled, with a status that says why.
      std::vector<int64_t> ids;
      for (const auto& [id, active] : active_) ids.push_back(id);
      for (int64_t id : ids) {
        engine_.cancel(id);
        StreamEnding ending;
        ending.error = StreamEnding::Error::unavailable;
        ending.reason = FinishReason::cancelled;
        ending.message = "the server is shutting down";
        end(id, ending, ServingMetrics::Outcome::cancelled);
      }
      publish_gauges();
      continue;
    }
    if (engine_.num_waiting() + engine_.num_running() > 0) {
      step();
      continue;
    }
    const auto beat = last_heartbeat_ + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(options_.heartbeat_seconds));
    if (Clock::now() >= beat) {
      set_busy(true);
      engine_.heartbeat();
      set_busy(false);
      last_heartbeat_ = Clock::now();
      continue;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, std::min(beat, Clock::now() + std::chrono::milliseconds(100)),
                     [&] { return !incoming_.empty() || shutting_down_ || !failure_.empty(); });
  }
}

void ServingLoop::take_incoming() {
  std::deque<Incoming> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(incoming_);
  }
  if (taken.empty()) return;  // the usual case between steps: nothing to publish either
  for (Incoming& in : taken) {
    const std::vector<int32_t> prompt = in.request.generation.prompt;
    const bool logprobs = in.request.generation.logprobs;
    int64_t id = -1;
    StreamEnding refused;
    try {
      id = engine_.submit(std::move(in.request.generation));
    } catch (const Error& error) {
      // The engine names what is wrong with the request itself (one larger than the whole KV pool):
      // no retry can help. A full queue is refused earlier, in submit().
      refused.error = StreamEnding::Error::invalid_argument;
      refused.message = error.what();
    } catch (const std::exception& error) {
      refused.error = StreamEnding::Error::internal;
      refused.message = fmt::format("the engine could not take the request: {}", error.what());
    }
    if (refused.error != StreamEnding::Error::none) {
      const bool internal = refused.error == StreamEnding::Error::internal;
      in.stream->end(std::move(refused));
      metrics_.request_ended(internal ? ServingMetrics::Outcome::error : ServingMetrics::Outcome::rejected);
      std::lock_guard lock(mutex_);
      --in_flight_count_;
      continue;
    }
    Active active;
    active.stream = in.stream;
    active.stop_strings = std::move(in.request.stop_strings);
    // Text continues the prompt, so the first token's leading space is decoded as it would be there.
    active.text = std::make_unique<TokenTextStream>(tokenizer_, prompt.back());
    active.logprobs = logprobs;
    active.prompt_tokens = static_cast<int64_t>(prompt.size());
    active.arrival = in.arrival;
    active_.emplace(id, std::move(active));
  }
  publish_gauges();
}

void ServingLoop::drop_cancelled() {
  std::vector<int64_t> cancelled;
  for (const auto& [id, active] : active_)
    if (active.stream->cancel_requested()) cancelled.push_back(id);
  for (int64_t id : cancelled) {
    engine_.cancel(id);
    StreamEnding ending;
    ending.reason = FinishReason::cancelled;
    end(id, ending, ServingMetrics::Outcome::cancelled);
  }
  if (!cancelled.empty()) publish_gauges();
}

void ServingLoop::step() {
  const Clock::time_point start = Clock::now();
  set_busy(true);
  try {
    engine_.step([this](int64_t id, int32_t token) { return on_token(id, token); });
  } catch (const std::exception& error) {
    // The engine fails the requests a failure touches and goes on; what reaches here (ranks out of
    // step, a broken invariant) leaves it unable to step again.
    set_busy(false);
    engine_failed(error.what());
    return;
  }
  set_busy(false);
  const Clock::time_point done = Clock::now();
  last_heartbeat_ = done;  // a step proves the ranks alive as well as a heartbeat does
  metrics_.step(std::chrono::duration<double>(done - start).count());
  for (auto& [id, active] : active_) {
    if (!active.was_admitted && engine_.admitted(id)) {
      active.was_admitted = true;
      active.admitted = start;
    }
  }
  // The gauges first: a client that reads them after its last message must see its blocks freed.
  publish_gauges();
  end_finished();
}

bool ServingLoop::on_token(int64_t id, int32_t token) {
  Active& active = active_.at(id);
  const Clock::time_point now = Clock::now();
  if (active.generated++ == 0) {
    active.first_token = now;
    metrics_.first_token(std::chrono::duration<double>(now - active.arrival).count());
  }
  active.last_token = now;
  std::optional<float> logprob;
  if (active.logprobs) logprob = engine_.logprobs(id).back();
  active.held += active.text->push(token);
  const auto [cut, stopped] = split_at_stop(active.held, active.stop_strings);
  active.stream->push(active.held.substr(0, cut), token, logprob);
  active.held.erase(0, cut);
  if (stopped) {
    active.held.clear();
    active.stopped_by_text = true;
  }
  return !stopped && !active.stream->cancel_requested();
}

void ServingLoop::end_finished() {
  std::vector<int64_t> finished;
  for (const auto& [id, active] : active_)
    if (engine_.finished(id)) finished.push_back(id);
  for (int64_t id : finished) {
    Active& active = active_.at(id);
    StreamEnding ending;
    ending.reason = engine_.finish_reason(id);
    if (ending.reason == FinishReason::error) {
      ending.error = StreamEnding::Error::internal;
      ending.message = fmt::format("generation failed: {}", engine_.error(id));
      end(id, ending, ServingMetrics::Outcome::error);
      continue;
    }
    // on_token ended it for a client that had gone: the engine took that for a stop.
    if (ending.reason == FinishReason::stop && !active.stopped_by_text && active.stream->cancel_requested())
      ending.reason = FinishReason::cancelled;
    // What was held back as a possible stop string was not one after all.
    if (!active.stopped_by_text) active.stream->push_text(active.held + active.text->finish());
    end(id, ending, outcome_of(ending.reason));
  }
}

void ServingLoop::end(int64_t id, StreamEnding ending, ServingMetrics::Outcome outcome) {
  Active& active = active_.at(id);
  const Clock::time_point now = Clock::now();
  ending.prompt_tokens = active.prompt_tokens;
  ending.completion_tokens = active.generated;
  ending.cached_prompt_tokens = engine_.cached_prompt_tokens(id);
  const Clock::time_point admitted = active.was_admitted ? active.admitted : now;
  ending.queue_ms = ms_between(active.arrival, admitted);
  if (active.generated > 0) {
    ending.prefill_ms = ms_between(admitted, active.first_token);
    ending.decode_ms = ms_between(active.first_token, active.last_token);
    ending.time_to_first_token_ms = ms_between(active.arrival, active.first_token);
  }
  metrics_.tokens(ending.prompt_tokens, ending.cached_prompt_tokens, ending.completion_tokens);
  metrics_.request_ended(outcome);
  active.stream->end(std::move(ending));
  engine_.release(id);
  active_.erase(id);
  std::lock_guard lock(mutex_);
  --in_flight_count_;
}

void ServingLoop::engine_failed(const std::string& cause) {
  const std::string reason = fmt::format("the engine failed and cannot go on: {}", cause);
  std::fprintf(stderr, "error: %s; not serving\n", reason.c_str());
  std::fflush(stderr);
  std::vector<int64_t> ids;
  for (const auto& [id, active] : active_) ids.push_back(id);
  for (int64_t id : ids) {
    Active& active = active_.at(id);
    StreamEnding ending;
    ending.error = StreamEnding::Error::internal;
    ending.message = reason;
    ending.prompt_tokens = active.prompt_tokens;
    ending.completion_tokens = active.generated;
    metrics_.request_ended(ServingMetrics::Outcome::error);
    active.stream->end(std::move(ending));
    active_.erase(id);
    std::lock_guard lock(mutex_);
    --in_flight_count_;
  }
  fail(reason);  // what is queued ends UNAVAILABLE; Health turns NOT_SERVING
}

void ServingLoop::publish_gauges() {
  ServingGauges gauges;
  gauges.queued = engine_.num_waiting();
  gauges.running = engine_.num_running();
  gauges.kv_blocks_total = engine_.blocks().num_blocks();
  gauges.kv_blocks_free = engine_.blocks().num_free_blocks();
  gauges.kv_blocks_in_use = gauges.kv_blocks_total - gauges.kv_blocks_free;
  Backend& memory = engine_.model().ops().memory();
  const MemoryStats held = memory.memory();
  gauges.device = memory.name();
  gauges.device_memory_bytes = static_cast<int64_t>(held.current_bytes);
  gauges.device_memory_peak_bytes = static_cast<int64_t>(held.peak_bytes);
  gauges.serving = not_serving_reason().empty();
  metrics_.gauges(gauges);
}

}  // namespace shardlm::rpc
