#include "runtime/engine/engine.h"

#include <algorithm>
#include <limits>

#include "parallel/comm/stage_peers.h"
#include "runtime/core/check.h"

namespace shardlm {

namespace {

// Rank 0's pool size and KV dtype, on every rank: the block tables it decides must be valid everywhere,
// and every rank's share of the cache must round alike.
EngineOptions agreed(EngineOptions options, const RankLinks& links) {
  if (links.world.world > 1) {
    SHARDLM_CHECK(links.world_comm != nullptr, "an engine over {} ranks needs a communicator", links.world.world);
    links.world_comm->broadcast(&options.num_blocks, sizeof(options.num_blocks), 0);
    links.world_comm->broadcast(&options.block_size, sizeof(options.block_size), 0);
    links.world_comm->broadcast(&options.kv_dtype, sizeof(options.kv_dtype), 0);
  }
  return options;
}

}  // namespace

Engine::Engine(Decoder& model, EngineOptions options, RankLinks links)
    : model_(model),
      links_(links),
      options_(agreed(options, links)),
      pool_(model.spec(), options_.num_blocks, options_.block_size, options_.kv_dtype, model.ops().memory()),
      blocks_(options_.num_blocks, options_.block_size, options_.prefix_cache) {
  SHARDLM_CHECK(options_.max_batch >= 1, "the batch must hold at least one sequence, got {}", options_.max_batch);
}

Engine::~Engine() {
  try {
    if (links_.world.is_coordinator()) stop_followers();
  } catch (const std::exception&) {
    // The job is ending with an error already; the followers are ended by MPI_Abort.
  }
}

void Engine::stop_followers() {
  if (links_.world.world == 1 || followers_stopped_) return;
  StepPlan plan;
  plan.end = true;
  plan.broadcast(*links_.world_comm, true);
  followers_stopped_ = true;
}

void Engine::heartbeat() {
  SHARDLM_CHECK(links_.world.is_coordinator(), "only rank 0 sends heartbeats");
  if (links_.world.world == 1 || followers_stopped_) return;
  StepPlan plan;
  plan.heartbeat = true;
  plan.broadcast(*links_.world_comm, true);
  float alive = 1;
  links_.world_comm->all_reduce(&alive, 1);
}

void Engine::follow(const std::function<void()>& after_each_plan) {
  SHARDLM_CHECK(!links_.world.is_coordinator(), "rank 0 leads the steps; it does not follow");
  for (;;) {
    StepPlan plan;
    plan.broadcast(*links_.world_comm, false);
    if (plan.end) return;
    if (plan.heartbeat) {
      float alive = 1;
      links_.world_comm->all_reduce(&alive, 1);
    } else {
      run_plan(plan);
    }
    if (after_each_plan) after_each_plan();
  }
}

std::vector<float> Engine::run_plan(const StepPlan& plan) {
  const WorldConfig& world = links_.world;
  Communicator* comm = links_.world_comm;
  const int64_t D = model_.spec().hidden, V = model_.spec().vocab_size;
  const bool coordinator = world.is_coordinator();
  const int last_stage_leader = world.rank_of(0, world.pp - 1);
  std::vector<float> logits(coordinator ? plan.sequences.size() * V : 0);
  int64_t first = 0;
  for (int64_t end : plan.micro_batch_ends) {
    std::vector<SequenceSlice> slices;
    int64_t tokens = 0;
    for (int64_t i = first; i < end; ++i) {
      const StepSequence& seq = plan.sequences[i];
      SequenceSlice slice;
      slice.tokens = seq.tokens;
      slice.start_pos = seq.start_pos;
      slice.pool = &pool_;
      slice.block_table = seq.block_table;
      slices.push_back(slice);
      tokens += static_cast<int64_t>(seq.tokens.size());
    }
    if (!world.first_stage()) {
      hidden_.resize(tokens * D);
      comm->recv(hidden_.data(), hidden_.size() * sizeof(float), previous_stage_rank(world));
    }
    const auto out = model_.forward_batch(slices, world.first_stage() ? nullptr : hidden_.data());
    if (!world.last_stage()) {
      comm->send(out.data(), out.size_bytes(), next_stage_rank(world));
    } else {
      logits.resize(plan.sequences.size() * V);
      std::copy(out.begin(), out.end(), logits.begin() + first * V);
    }
    first = end;
  }
  // The last stage returns the logits only after its last micro-batch: were it to send them after
  // each one, it could block on rank 0 while rank 0 blocks handing it the next micro-batch.
  if (world.last_stage() && world.tp_rank() == 0 && !coordinator) {
    comm->send(logits.data(), logits.size() * sizeof(float), 0);
  } else if (coordinator && !world.last_stage()) {
    comm->recv(logits.data(), logits.size() * sizeof(float), last_stage_leader);
  }
  return logits;
}

int64_t Engine::submit(GenerationRequest request) {
  const ModelSpec& spec = model_.spec();
  const int64_t id = next_request_;
  SHARDLM_CHECK(!request.prompt.empty(), "request {}: the prompt is empty", id);
  SHARDLM_CHECK(static_cast<int64_t>(request.prompt.size()) <= spec.max_seq_len,
                "request {}: the prompt is {} tokens, longer than the model's context of {}", id, request.prompt.size(),
                spec.max_seq_len);
  SHARDLM_CHECK(request.max_new_tokens >= 1, "request {}: max new tokens must be >= 1, got {}", id,
                request.max_new_tokens);
  for (int32_t token : request.prompt)
    SHARDLM_CHECK(token >= 0 && token < spec.vocab_size, "request {}: token id {} is outside the vocabulary of {}", id,
                  token, spec.vocab_size);
  request.sampling.validate();
  // Positions it can ever occupy: the prompt and every fed-back token, within the context.
  const int64_t positions = std::min<int64_t>(spec.max_seq_len, request.prompt.size() + request.max_new_tokens - 1);
  SHARDLM_CHECK(blocks_.blocks_for_tokens(std::max<int64_t>(positions, request.prompt.size())) <= blocks_.num_blocks(),
                "request {}: {} positions need more KV blocks than the pool's {} of {} tokens", id, positions,
                blocks_.num_blocks(), blocks_.block_size());
  auto sampler = std::make_unique<Sampler>(request.sampling);
  std::vector<int32_t> context = request.prompt;
  RequestState state;
  state.request = std::move(request);
  state.sampler = std::move(sampler);
  state.context = std::move(context);
  requests_.emplace(id, std::move(state));
  ++next_request_;
  waiting_.push_back(id);
  return id;
}

bool Engine::admit(int64_t id) {
  RequestState& state = requests_.at(id);
  // A preempted request resumes from its prompt and what it generated; the last generated token is
  // the one to compute next.
  std::vector<int32_t> tokens = state.request.prompt;
  tokens.insert(tokens.end(), state.generated.begin(), state.generated.end());
  if (!blocks_.can_allocate(tokens)) return false;
  const int64_t cached = blocks_.allocate(id, tokens);
  counters_.reused_prompt_tokens += cached;
  counters_.computed_prompt_tokens += static_cast<int64_t>(tokens.size()) - cached;
  running_.push_back({id, std::vector<int32_t>(tokens.begin() + cached, tokens.end()), cached});
  if (!state.admitted) state.cached_prompt_tokens = cached;
  state.admitted = true;
  return true;
}

void Engine::preempt_newest() {
  const Running newest = running_.back();
  running_.pop_back();
  blocks_.free(newest.request, newest.position);  // K/V exists for positions before its pending tokens
  waiting_.push_front(newest.request);
  ++counters_.preemptions;
}

void Engine::finish(size_t index, FinishReason reason) {
  RequestState& state = requests_.at(running_[index].request);
  state.finished = true;
  state.finish_reason = reason;
  blocks_.free(running_[index].request);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
}

void Engine::fail_running(size_t index, int64_t computed, const std::string& cause) {
  const int64_t request = running_[index].request;
  RequestState& state = requests_.at(request);
  // Positions from `computed` on may hold half-written K/V: they must not stay in the prefix cache.
  blocks_.free(request, computed);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  state.finished = true;
  state.finish_reason = FinishReason::error;
  state.error = cause;
  ++counters_.failed_requests;
  last_failure_ = fmt::format("request {}: {}", request, cause);
}

bool Engine::step(const TokenCallback& on_token) {
  SHARDLM_CHECK(links_.world.is_coordinator(), "only rank 0 schedules steps; the other ranks follow()");
  if (!broken_.empty()) throw EngineBroken(fmt::format("the engine cannot step any more: {}", broken_));
  // Admission: first come, first served, while there is room in the batch and in the pool. With a
  // token budget, prompts are prefilled in chunks, one at a time: a prompt's blocks are published
  // when it is admitted, so no other prompt may be admitted (and find them) until they are computed.
  const bool chunked = options_.max_step_tokens > 0;
  auto prefilling = [&] {
    return std::any_of(running_.begin(), running_.end(), [](const Running& r) { return r.pending.size() > 1; });
  };
  while (!waiting_.empty() && static_cast<int64_t>(running_.size()) < options_.max_batch &&
         !(chunked && prefilling()) && admit(waiting_.front()))
    waiting_.pop_front();
  if (running_.empty()) {
    SHARDLM_CHECK(waiting_.empty(), "request {} cannot be scheduled although the pool is empty", waiting_.front());
    return false;
  }

  // This step's tokens: every decoding sequence's one, then prompt chunks, oldest first, within the
  // budget, so a long prompt does not stall the others' decoding.
  int64_t budget = chunked ? options_.max_step_tokens : std::numeric_limits<int64_t>::max();
  for (const Running& seq : running_)
    if (seq.pending.size() == 1) --budget;
  std::vector<int64_t> take(running_.size());
  for (size_t i = 0; i < running_.size(); ++i) {
    const auto pending = static_cast<int64_t>(running_[i].pending.size());
    take[i] = pending == 1 ? 1 : std::clamp<int64_t>(budget, 0, pending);
    if (pending > 1) budget -= take[i];
  }
  StepPlan plan;
  std::vector<size_t> scheduled;  // running_ index of each planned sequence
  for (size_t i = 0; i < running_.size(); ++i) {
    if (take[i] == 0) continue;
    const Running& seq = running_[i];
    const auto table = blocks_.block_table(seq.request);
    plan.sequences.push_back({std::vector<int32_t>(seq.pending.begin(), seq.pending.begin() + take[i]), seq.position,
                              std::vector<int32_t>(table.begin(), table.end())});
    scheduled.push_back(i);
  }
  // One micro-batch per pipeline stage (as even as possible), so that the stages overlap.
  const int64_t n = static_cast<int64_t>(scheduled.size());
  const int64_t parts = std::min<int64_t>(n, links_.world.pp);
  for (int64_t p = 1; p <= parts; ++p) plan.micro_batch_ends.push_back(n * p / parts);
  std::vector<float> logits;
  bool plan_sent = false;
  try {
    plan_sent = links_.world.world > 1;
    if (plan_sent) plan.broadcast(*links_.world_comm, true);
    logits = run_plan(plan);
  } catch (const std::exception& error) {
    if (plan_sent) {
      broken_ = fmt::format("a step failed on rank 0 while {} ranks ran it: {}", links_.world.world, error.what());
      throw EngineBroken(broken_);
    }
    // Every planned sequence was in the failed pass: it fails, and none of this step's K/V counts.
    for (size_t k = scheduled.size(); k-- > 0;)
      fail_running(scheduled[k], running_[scheduled[k]].position, fmt::format("the forward pass failed: {}", error.what()));
    return true;
  }
  ++counters_.steps;
  counters_.largest_batch = std::max<int64_t>(counters_.largest_batch, n);
  int64_t step_tokens = 0;
  for (const StepSequence& s : plan.sequences) step_tokens += static_cast<int64_t>(s.tokens.size());
  counters_.largest_step_tokens = std::max(counters_.largest_step_tokens, step_tokens);

  // Sampling, for sequences whose whole pending input has now been computed.
  const ModelSpec& spec = model_.spec();
  const int64_t V = spec.vocab_size;
  std::vector<int32_t> sampled(running_.size(), -1);
  std::vector<std::string> failures(running_.size());  // a sequence's sampling error
  for (size_t k = 0; k < scheduled.size(); ++k) {
    Running& seq = running_[scheduled[k]];
    seq.position += take[scheduled[k]];
    seq.pending.erase(seq.pending.begin(), seq.pending.begin() + take[scheduled[k]]);
    if (!seq.pending.empty()) continue;  // mid-prefill: its next chunk comes next step
    RequestState& state = requests_.at(seq.request);
    const std::span<const float> row(logits.data() + k * V, V);
    try {
      if (state.request.constraint) {
        masked_.assign(row.begin(), row.end());
        std::vector<int32_t> stops = spec.stop_tokens;
        stops.insert(stops.end(), state.request.stop_tokens.begin(), state.request.stop_tokens.end());
        state.request.constraint->mask(masked_, stops);
        sampled[scheduled[k]] = state.sampler->sample(masked_, state.context);
      } else {
        sampled[scheduled[k]] = state.sampler->sample(row, state.context);
      }
      if (state.request.logprobs) state.logprobs.push_back(Sampler::log_probability(row, sampled[scheduled[k]]));
    } catch (const std::exception& error) {
      failures[scheduled[k]] = fmt::format("sampling failed: {}", error.what());
    }
  }
  // Bookkeeping in admission order; walking backwards keeps indices valid as sequences leave.
  std::vector<bool> fed_back(running_.size(), false);
  for (size_t i = running_.size(); i-- > 0;) {
    if (!failures[i].empty()) {
      fail_running(i, running_[i].position, failures[i]);
      fed_back.erase(fed_back.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (sampled[i] < 0) continue;
    Running& seq = running_[i];
    RequestState& state = requests_.at(seq.request);
    const int32_t token = sampled[i];
    const auto& extra = state.request.stop_tokens;
    const bool stop = !state.request.ignore_stop_tokens &&
                      (std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end() ||
                       std::find(extra.begin(), extra.end(), token) != extra.end());
    if (stop) {
      if (state.request.logprobs) state.logprobs.pop_back();  // the stop token is not part of the output
      finish(i, FinishReason::stop);
      fed_back.erase(fed_back.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    if (state.request.constraint) {
      try {
        state.request.constraint->accept(token);
      } catch (const std::exception& error) {
        fail_running(i, seq.position, error.what());
        fed_back.erase(fed_back.begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
    }
    state.generated.push_back(token);
    state.context.push_back(token);
    ++counters_.generated_tokens;
    bool wanted = true;
    try {
      wanted = !on_token || on_token(seq.request, token);
    } catch (const std::exception& error) {
      fail_running(i, seq.position, fmt::format("handing on token {} failed: {}", token, error.what()));
      fed_back.erase(fed_back.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    const bool constraint_done = state.request.constraint && state.request.constraint->finished();
    if (!wanted || constraint_done || static_cast<int64_t>(state.generated.size()) >= state.request.max_new_tokens ||
        seq.position >= spec.max_seq_len) {
      finish(i, wanted && !constraint_done ? FinishReason::length : FinishReason::stop);
      fed_back.erase(fed_back.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    seq.pending.assign(1, token);
    fed_back[i] = true;
  }
  // The fed-back tokens need a KV slot each; when blocks run out, the newest sequences make room.
  for (size_t i = 0; i < running_.size(); ++i) {
    if (!fed_back[i]) continue;
    while (!blocks_.append_token(running_[i].request, running_[i].pending.front())) {
      const bool self = i + 1 == running_.size();
      preempt_newest();
      fed_back.pop_back();
      if (self) break;
    }
  }
  return true;
}

void Engine::cancel(int64_t request) {
  RequestState& state = requests_.at(request);
  if (state.finished) return;
  if (const auto queued = std::find(waiting_.begin(), waiting_.end(), request); queued != waiting_.end()) {
    waiting_.erase(queued);
    // A preempted request waits with its blocks already released.
    state.finished = true;
    state.finish_reason = FinishReason::cancelled;
    return;
  }
  const auto running = std::find_if(running_.begin(), running_.end(), [&](const Running& r) { return r.request == request; });
  SHARDLM_CHECK(running != running_.end(), "request {} is neither queued, running nor finished", request);
  // Only positions before its pending tokens hold K/V: the rest must not stay in the prefix cache.
  blocks_.free(request, running->position);
  running_.erase(running);
  state.finished = true;
  state.finish_reason = FinishReason::cancelled;
}

void Engine::release(int64_t request) {
  SHARDLM_CHECK(requests_.at(request).finished, "request {} is still queued or running; cancel it before releasing it",
                request);
  requests_.erase(request);
}

void Engine::run_to_completion(const TokenCallback& on_token) {
  const int64_t failed_before = counters_.failed_requests;
  while (step(on_token)) {
    if (counters_.failed_requests > failed_before) SHARDLM_FAIL("{}", last_failure_);
  }
}

}  // namespace shardlm
