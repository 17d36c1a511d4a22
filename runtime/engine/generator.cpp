#include "runtime/engine/generator.h"

#include <algorithm>
#include <chrono>

#include "parallel/comm/stage_peers.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// What rank 0 broadcasts before each forward pass. count 0 ends the generation.
struct StepHeader {
  int64_t start_pos = 0;
  int64_t count = 0;
  int64_t cache_positions = 0;  // the KV cache every rank allocates, sent with the first step
};

}  // namespace

GenerationStats generate(Decoder& model, const RankLinks& links, const std::vector<int32_t>& prompt,
                         int64_t max_new_tokens, Sampler* sampler, const TokenCallback& on_token) {
  const ModelSpec& spec = model.spec();
  const WorldConfig& world = links.world;
  const bool coordinator = world.is_coordinator();
  Communicator* comm = links.world_comm;
  SHARDLM_CHECK(world.world == 1 || comm != nullptr, "generation over {} ranks needs a communicator", world.world);

  GenerationStats stats;
  StepHeader header;
  std::vector<int32_t> tokens;
  if (coordinator) {
    const auto prompt_length = static_cast<int64_t>(prompt.size());
    SHARDLM_CHECK(prompt_length > 0, "the prompt is empty");
    SHARDLM_CHECK(prompt_length <= spec.max_seq_len, "the prompt is {} tokens, longer than the model's context of {}",
                  prompt_length, spec.max_seq_len);
    SHARDLM_CHECK(max_new_tokens >= 0, "max new tokens must be >= 0, got {}", max_new_tokens);
    SHARDLM_CHECK(sampler != nullptr, "the coordinator needs a sampler");
    stats.prompt_tokens = prompt_length;
    // The last new token is sampled, never fed back, so it needs no cache slot.
    header.cache_positions = std::max(prompt_length, std::min(spec.max_seq_len, prompt_length + max_new_tokens - 1));
    header.count = max_new_tokens > 0 ? prompt_length : 0;
    tokens = prompt;
  }
  auto broadcast_step = [&] {
    if (world.world == 1) return;
    comm->broadcast(&header, sizeof(header), 0);
    tokens.resize(header.count);
    if (header.count > 0) comm->broadcast(tokens.data(), tokens.size() * sizeof(int32_t), 0);
  };
  broadcast_step();
  if (header.count == 0) return stats;
  KvCache cache(spec, header.cache_positions);

  const int last_stage_leader = world.rank_of(0, world.pp - 1);
  const bool sends_logits = world.last_stage() && world.tp_rank() == 0 && !coordinator;
  std::vector<float> hidden, logits;
  auto is_stop = [&](int32_t token) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end();
  };

  auto start = std::chrono::steady_clock::now();
  for (bool first_pass = true;; first_pass = false) {
    // This rank's share of the forward pass.
    if (!world.first_stage()) {
      hidden.resize(header.count * spec.hidden);
      comm->recv(hidden.data(), hidden.size() * sizeof(float), previous_stage_rank(world));
    }
    const auto out = model.forward(tokens, header.start_pos, cache, Logits::last,
                                   world.first_stage() ? nullptr : hidden.data());
    if (!world.last_stage()) comm->send(out.data(), out.size_bytes(), next_stage_rank(world));
    if (sends_logits) comm->send(out.data(), out.size_bytes(), 0);

    // The coordinator samples and decides the next step.
    if (coordinator) {
      if (world.last_stage()) {
        logits.assign(out.begin(), out.end());
      } else {
        logits.resize(spec.vocab_size);
        comm->recv(logits.data(), logits.size() * sizeof(float), last_stage_leader);
      }
      const int32_t token = sampler->sample(logits);
      if (first_pass) {
        stats.prefill_seconds = seconds_since(start);
        start = std::chrono::steady_clock::now();
      }
      const int64_t position = header.start_pos + header.count;  // where this token would be written
      bool more = !is_stop(token);
      if (more) {
        ++stats.generated_tokens;
        more = on_token(token) && stats.generated_tokens < max_new_tokens && position < header.cache_positions;
      }
      header.start_pos = position;
      header.count = more ? 1 : 0;
      tokens.assign(1, token);
    }
    broadcast_step();
    if (header.count == 0) break;
  }
  if (coordinator) stats.decode_seconds = seconds_since(start);
  return stats;
}

}  // namespace shardlm
