#include "rpc/server/serving_metrics.h"

#include <fmt/format.h>

namespace shardlm::rpc {

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::string Histogram::render(const std::string& name, const std::string& help) const {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  int64_t cumulative = 0;
  for (size_t b = 0; b < bounds_.size(); ++b) {
    cumulative += counts_[b];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[b], cumulative);
  }
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
  return out;
}

namespace {
const std::vector<double> kSecondsBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                             0.25,  0.5,    1,     2.5,  5,     10};
constexpr const char* kOutcomeNames[] = {"length", "stop", "cancelled", "error", "rejected"};
}  // namespace

ServingMetrics::ServingMetrics() : step_seconds_(kSecondsBuckets), time_to_first_token_seconds_(kSecondsBuckets) {}

void ServingMetrics::request_ended(Outcome outcome) {
  std::lock_guard lock(mutex_);
  ++requests_[static_cast<size_t>(outcome)];
}

void ServingMetrics::tokens(int64_t prompt, int64_t cached_prompt, int64_t generated) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt;
  cached_prompt_tokens_ += cached_prompt;
  generated_tokens_ += generated;
}

void ServingMetrics::step(double seconds) {
  std::lock_guard lock(mutex_);
  step_seconds_.observe(seconds);
}

void ServingMetrics::first_token(double seconds_since_arrival) {
  std::lock_guard lock(mutex_);
  time_to_first_token_seconds_.observe(seconds_since_arrival);
}

void ServingMetrics::gauges(const ServingGauges& gauges) {
  std::lock_guard lock(mutex_);
  gauges_ = gauges;
}

ServingGauges ServingMetrics::gauges() const {
  std::lock_guard lock(mutex_);
  return gauges_;
}

std::string ServingMetrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out = "# HELP shardlm_requests_total Requests ended, by outcome.\n# TYPE shardlm_requests_total counter\n";
  for (size_t o = 0; o < requests_.size(); ++o)
    out += fmt::format("shardlm_requests_total{{outcome=\"{}\"}} {}\n", kOutcomeNames[o], requests_[o]);
  auto single = [&](const char* name, const char* type, const char* help, auto value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  single("shardlm_prompt_tokens_total", "counter", "Prompt tokens of ended requests.", prompt_tokens_);
  single("shardlm_cached_prompt_tokens_total", "counter", "Of those, tokens found in the prefix cache.",
         cached_prompt_tokens_);
  single("shardlm_generated_tokens_total", "counter", "Tokens generated.", generated_tokens_);
  single("shardlm_queue_depth", "gauge", "Requests waiting for a place in the batch.", gauges_.queued);
  single("shardlm_running_sequences", "gauge", "Sequences in the running batch.", gauges_.running);
  single("shardlm_kv_blocks_used", "gauge", "KV blocks held by queued or running sequences.", gauges_.kv_blocks_in_use);
  single("shardlm_kv_blocks_free", "gauge", "KV blocks free or only cached.", gauges_.kv_blocks_free);
  single("shardlm_kv_blocks_total", "gauge", "KV blocks in the pool.", gauges_.kv_blocks_total);
  single("shardlm_serving", "gauge", "1 while every rank answers and the engine steps.", gauges_.serving ? 1 : 0);
  // The device's name is a label (it may hold a colon: "cuda:0"); the metric names stay fixed.
  out += fmt::format(
      "# HELP shardlm_device_memory_bytes Bytes rank 0 holds in its device's memory now.\n"
      "# TYPE shardlm_device_memory_bytes gauge\nshardlm_device_memory_bytes{{device=\"{}\"}} {}\n"
      "# HELP shardlm_device_memory_peak_bytes The most bytes rank 0 has held in its device's memory.\n"
      "# TYPE shardlm_device_memory_peak_bytes gauge\nshardlm_device_memory_peak_bytes{{device=\"{}\"}} {}\n",
      gauges_.device, gauges_.device_memory_bytes, gauges_.device, gauges_.device_memory_peak_bytes);
  out += step_seconds_.render("shardlm_step_seconds", "Time of one engine step (a forward pass over the batch).");
  out += time_to_first_token_seconds_.render("shardlm_time_to_first_token_seconds",
                                             "From a request's arrival to its first token.");
  return out;
}

}  // namespace shardlm::rpc
