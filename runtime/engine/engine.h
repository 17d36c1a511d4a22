// The engine of one rank (the coordinator's view): requests queue, the scheduler admits them while
// KV blocks last, and every step runs one forward pass over all running sequences: new sequences'
// uncached prompt tokens and running sequences' last tokens together (continuous batching). Prompts
// reuse the cached blocks of any earlier sequence with the same prefix (a second chat round, a
// shared system prompt). When blocks run out, the newest sequence is preempted: its blocks are
// released and it is queued again with what it has generated, to be recomputed later (mostly from
// the prefix cache), its sampler untouched, so its output does not change.
//
// Across ranks, every rank builds an Engine; rank 0 (the coordinator) schedules and samples, and
// broadcasts each step's plan; the other ranks call follow() and run the plans on their share of
// the model until rank 0 calls stop_followers(). Sequences are split into one micro-batch per
// pipeline stage, so that stage s works on one micro-batch while stage s + 1 works on the one before.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/core/check.h"
#include "runtime/engine/block_manager.h"
#include "runtime/engine/rank_links.h"
#include "runtime/engine/token_constraint.h"
#include "runtime/engine/step_plan.h"
#include "runtime/engine/sampler.h"
#include "runtime/model/decoder.h"
#include "runtime/model/kv_pool.h"

namespace shardlm {

struct GenerationRequest {
  std::vector<int32_t> prompt;
  int64_t max_new_tokens = 256;
  SamplingParams sampling;
  std::vector<int32_t> stop_tokens;  // end the sequence, besides the model's own stop tokens
  bool logprobs = false;             // record each chosen token's log-probability
  bool ignore_stop_tokens = false;   // run to max_new_tokens past any stop token (benchmarks)
  // Structured output: only tokens it allows are sampled, and the sequence stops once it is finished.
  // One per request (it keeps the request's state).
  std::shared_ptr<TokenConstraint> constraint;
};

struct EngineOptions {
  int64_t max_batch = 16;      // sequences in flight at once
  int64_t num_blocks = 0;      // KV pool size in blocks
  int64_t block_size = 16;     // tokens per block
  bool prefix_cache = true;    // reuse cached blocks of equal prefixes
  int64_t max_step_tokens = 0; // tokens one step may compute (chunked prefill); 0 = whole prompts
  DType kv_dtype = DType::f32; // what the KV pool stores: f32, or bf16 at half the bytes
};

// Why a request ended. none: still queued or running; error: its step failed (Engine::error says why).
enum class FinishReason { none, length, stop, cancelled, error };

// Thrown by step() when a step failed part-way through work shared with other ranks: they can no
// longer be kept in step, so the engine refuses every later step.
class EngineBroken : public Error {
  using Error::Error;
};

struct EngineCounters {
  int64_t steps = 0;
  int64_t computed_prompt_tokens = 0;  // prompt tokens run through the model (prefill work)
  int64_t reused_prompt_tokens = 0;    // prompt tokens found in the prefix cache instead
  int64_t generated_tokens = 0;
  int64_t preemptions = 0;
  int64_t largest_batch = 0;
  int64_t largest_step_tokens = 0;
  int64_t failed_requests = 0;  // ended with FinishReason::error
};

class Engine {
 public:
  // Called on rank 0 with each new token; returning false ends that request (a stop string found,
  // a client gone) as if it had reached its limit.
  using TokenCallback = std::function<bool(int64_t request, int32_t token)>;

  // Collective: every rank constructs it (rank 0's num_blocks is used everywhere).
  Engine(Decoder& model, EngineOptions options, RankLinks links = {});
  ~Engine();

  // Ranks other than 0: run rank 0's plans until it stops the followers. `after_each_plan` runs after
  // every step and heartbeat (a server's watchdog notes that rank 0 is still there).
  void follow(const std::function<void()>& after_each_plan = nullptr);
  // Rank 0: tells the followers there are no more steps (also done by the destructor).
  void stop_followers();

  // Queues a request; returns its id (0, 1, ...). Throws naming what is wrong with it, including a
  // request that would not fit the KV pool even alone.
  int64_t submit(GenerationRequest request);
  // One scheduling step and forward pass. Returns false when nothing is queued or running.
  // A failure ends only the requests it touches, with FinishReason::error, their blocks freed: an
  // admission, sampling or on_token that throws, the request concerned; a forward pass that throws,
  // every request in it. The others go on. Across ranks, a forward pass that throws leaves the other
  // ranks mid-step: that throws EngineBroken.
  bool step(const TokenCallback& on_token = nullptr);
  // Steps until every request has ended; throws naming the cause when one failed.
  void run_to_completion(const TokenCallback& on_token = nullptr);

  // Ends a queued or running request now, freeing its KV blocks (a client gone, a deadline passed);
  // nothing happens when it has already finished.
  void cancel(int64_t request);
  // Forgets a finished request (a server's finished requests would otherwise pile up); asking
  // about it afterwards throws std::out_of_range. Its id is never given again.
  void release(int64_t request);
  // Rank 0, with other ranks: a step without a forward pass that every rank must answer; it returns
  // only when all are alive (a server checks its ranks this way while idle).
  void heartbeat();

  bool finished(int64_t request) const { return requests_.at(request).finished; }
  // Why the request failed (FinishReason::error); empty otherwise.
  const std::string& error(int64_t request) const { return requests_.at(request).error; }
  FinishReason finish_reason(int64_t request) const { return requests_.at(request).finish_reason; }
  // Whether the request has been given KV blocks and a place in the batch (it has left the queue).
  bool admitted(int64_t request) const { return requests_.at(request).admitted; }
  // Prompt tokens found in the prefix cache at its first admission.
  int64_t cached_prompt_tokens(int64_t request) const { return requests_.at(request).cached_prompt_tokens; }
  int64_t num_waiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t num_running() const { return static_cast<int64_t>(running_.size()); }
  const std::vector<int32_t>& output(int64_t request) const { return requests_.at(request).generated; }
  // The log-probability of each generated token, when the request asked for them.
  const std::vector<float>& logprobs(int64_t request) const { return requests_.at(request).logprobs; }
  const EngineCounters& counters() const { return counters_; }
  const BlockManager& blocks() const { return blocks_; }
  const KvPool& pool() const { return pool_; }
  const Decoder& model() const { return model_; }

 private:
  struct RequestState {
    GenerationRequest request;
    std::unique_ptr<Sampler> sampler;
    std::vector<int32_t> generated;
    std::vector<float> logprobs;
    std::vector<int32_t> context;  // prompt + generated, for the sampler's penalties
    bool finished = false;
    bool admitted = false;
    int64_t cached_prompt_tokens = 0;
    FinishReason finish_reason = FinishReason::none;
    std::string error;
  };
  struct Running {
    int64_t request;
    std::vector<int32_t> pending;  // tokens this step computes
    int64_t position = 0;          // position of pending[0]
  };

  bool admit(int64_t request);       // allocates blocks; false when they do not fit now
  // Runs a plan's forward passes on this rank; on rank 0, returns the logits [sequences, vocab].
  std::vector<float> run_plan(const StepPlan& plan);
  void preempt_newest();
  void finish(size_t running_index, FinishReason reason);
  // Ends a running request with FinishReason::error; only its first `computed` positions hold K/V.
  void fail_running(size_t running_index, int64_t computed, const std::string& cause);

  Decoder& model_;
  RankLinks links_;
  bool followers_stopped_ = false;
  std::string broken_;        // why the ranks fell out of step; empty while they are in step
  std::string last_failure_;  // the latest request failure, for run_to_completion
  EngineOptions options_;
  KvPool pool_;
  std::vector<float> hidden_;
  std::vector<float> masked_;  // a constrained sequence's logits with the disallowed tokens at -inf
  BlockManager blocks_;
  std::unordered_map<int64_t, RequestState> requests_;
  int64_t next_request_ = 0;
  std::deque<int64_t> waiting_;
  std::vector<Running> running_;  // in admission order: the newest is preempted first
  EngineCounters counters_;
};

}  // namespace shardlm
