// The server's counters, gauges and histograms, rendered in Prometheus' text exposition format
// (version 0.0.4) by the Metrics call. Thread-safe: the serving loop records, handlers render.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace shardlm::rpc {

// Cumulative buckets, as Prometheus histograms count them.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // `name`_bucket{le=...}, `name`_sum and `name`_count lines.
  std::string render(const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket, not yet cumulative; the last is +Inf
  double sum_ = 0;
  int64_t count_ = 0;
};

struct ServingGauges {
  int64_t queued = 0, running = 0;
  int64_t kv_blocks_in_use = 0, kv_blocks_free = 0, kv_blocks_total = 0;
  // What this rank allocated in the memory of the device its decoder runs on (host memory for the
  // CPU: activations, the KV pool, weights copied at load), now and at most since the start.
  std::string device = "cpu";
  int64_t device_memory_bytes = 0, device_memory_peak_bytes = 0;
  bool serving = true;
};

class ServingMetrics {
 public:
  enum class Outcome { length, stop, cancelled, error, rejected, count };

  ServingMetrics();
  void request_ended(Outcome outcome);
  void tokens(int64_t prompt, int64_t cached_prompt, int64_t generated);
  void step(double seconds);
  void first_token(double seconds_since_arrival);
  void gauges(const ServingGauges& gauges);
  ServingGauges gauges() const;
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::array<int64_t, static_cast<size_t>(Outcome::count)> requests_{};
  int64_t prompt_tokens_ = 0, cached_prompt_tokens_ = 0, generated_tokens_ = 0;
  Histogram step_seconds_, time_to_first_token_seconds_;
  ServingGauges gauges_;
};

}  // namespace shardlm::rpc
