#include "runtime/engine/batch_generator.h"

#include <algorithm>
#include <chrono>
#include <memory>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

struct Running {
  size_t request;
  std::unique_ptr<KvCache> cache;
  std::unique_ptr<Sampler> sampler;
  std::vector<int32_t> pending;  // tokens to feed next: the prompt at first, then the last sampled one
  int64_t position = 0;          // where pending[0] goes
};

}  // namespace

std::vector<std::vector<int32_t>> generate_batch(Decoder& model, const std::vector<GenerationRequest>& requests,
                                                 int64_t max_batch, const BatchTokenCallback& on_token,
                                                 BatchStats* stats) {
  const ModelSpec& spec = model.spec();
  SHARDLM_CHECK(max_batch >= 1, "the batch must hold at least one sequence, got {}", max_batch);
  for (size_t i = 0; i < requests.size(); ++i) {
    const GenerationRequest& r = requests[i];
    SHARDLM_CHECK(!r.prompt.empty(), "request {}: the prompt is empty", i);
    SHARDLM_CHECK(static_cast<int64_t>(r.prompt.size()) <= spec.max_seq_len,
                  "request {}: the prompt is {} tokens, longer than the model's context of {}", i, r.prompt.size(),
                  spec.max_seq_len);
    SHARDLM_CHECK(r.max_new_tokens >= 1, "request {}: max new tokens must be >= 1, got {}", i, r.max_new_tokens);
    r.sampling.validate();
  }
  auto is_stop = [&](int32_t token) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end();
  };

  std::vector<std::vector<int32_t>> outputs(requests.size());
  std::vector<Running> running;
  size_t next_request = 0;
  BatchStats local_stats;
  const auto start = std::chrono::steady_clock::now();
  while (next_request < requests.size() || !running.empty()) {
    // Waiting requests join as soon as there is room: that is the continuous part.
    while (next_request < requests.size() && static_cast<int64_t>(running.size()) < max_batch) {
      const GenerationRequest& r = requests[next_request];
      const auto length = static_cast<int64_t>(r.prompt.size());
      // The last new token is sampled, never fed back, so it needs no cache slot.
      const int64_t positions = std::max(length, std::min(spec.max_seq_len, length + r.max_new_tokens - 1));
      running.push_back({next_request, std::make_unique<KvCache>(spec, positions),
                         std::make_unique<Sampler>(r.sampling), r.prompt, 0});
      ++next_request;
    }
    std::vector<SequenceSlice> slices;
    for (Running& seq : running) slices.push_back({seq.pending, seq.position, seq.cache.get()});
    const auto logits = model.forward_batch(slices);
    ++local_stats.steps;
    local_stats.largest_batch = std::max<int64_t>(local_stats.largest_batch, static_cast<int64_t>(running.size()));

    const int64_t V = spec.vocab_size;
    std::vector<Running> still;
    for (size_t i = 0; i < running.size(); ++i) {
      Running& seq = running[i];
      const GenerationRequest& r = requests[seq.request];
      const int32_t token = seq.sampler->sample(std::span<const float>(logits.data() + i * V, V));
      seq.position += static_cast<int64_t>(seq.pending.size());
      bool more = !is_stop(token);
      if (more) {
        outputs[seq.request].push_back(token);
        ++local_stats.generated_tokens;
        if (on_token) on_token(seq.request, token);
        more = static_cast<int64_t>(outputs[seq.request].size()) < r.max_new_tokens &&
               seq.position < seq.cache->capacity();
      }
      if (more) {
        seq.pending.assign(1, token);
        still.push_back(std::move(seq));
      }
    }
    running = std::move(still);
  }
  local_stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (stats != nullptr) *stats = local_stats;
  return outputs;
}

}  // namespace shardlm
