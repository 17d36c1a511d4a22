#include "runtime/engine/speculative.h"

#include <algorithm>
#include <chrono>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

int32_t argmax(std::span<const float> row) {
  return static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int64_t k, int64_t max_ngram) {
  const auto length = static_cast<int64_t>(context.size());
  for (int64_t n = std::min(max_ngram, length - 1); n >= 1; --n) {
    const auto tail = context.subspan(length - n);
    // The most recent earlier occurrence: scan backwards from just before the tail itself.
    for (int64_t start = length - n - 1; start >= 0; --start) {
      if (!std::equal(tail.begin(), tail.end(), context.begin() + start)) continue;
      const int64_t from = start + n, count = std::min(k, length - from);
      return std::vector<int32_t>(context.begin() + from, context.begin() + from + count);
    }
  }
  return {};
}

SpeculationStats generate_greedy_speculative(Decoder& model, const std::vector<int32_t>& prompt,
                                             int64_t max_new_tokens, int64_t draft_tokens,
                                             const std::function<bool(int32_t)>& on_token) {
  const ModelSpec& spec = model.spec();
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  SHARDLM_CHECK(prompt_length > 0 && prompt_length <= spec.max_seq_len,
                "the prompt is {} tokens; it must be 1 to {} (the model's context)", prompt_length, spec.max_seq_len);
  SHARDLM_CHECK(max_new_tokens >= 1 && draft_tokens >= 1, "speculation needs max new tokens and draft tokens >= 1");
  SpeculationStats stats;
  // Room for the drafts too: a pass writes K/V for every draft token, kept or not (a rejected
  // token's slot is simply written over by the next pass, since attention never reads past it).
  KvCache cache(spec, std::min(spec.max_seq_len, prompt_length + max_new_tokens + draft_tokens));
  auto is_stop = [&](int32_t token) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end();
  };
  std::vector<int32_t> context = prompt;
  auto start = std::chrono::steady_clock::now();
  int32_t next = argmax(model.forward(prompt, 0, cache));
  stats.prefill_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  for (;;) {
    if (is_stop(next)) break;
    context.push_back(next);
    ++stats.generated;
    const int64_t position = static_cast<int64_t>(context.size()) - 1;  // where `next` goes
    if (!on_token(next) || stats.generated >= max_new_tokens || position >= cache.capacity()) break;
    // Draft, limited by what may still be generated and by the cache.
    const int64_t room = std::min(max_new_tokens - stats.generated, cache.capacity() - position - 1);
    std::vector<int32_t> draft = prompt_lookup_draft(context, std::min(draft_tokens, room));
    std::vector<int32_t> step = {next};
    step.insert(step.end(), draft.begin(), draft.end());
    const auto logits = model.forward(step, position, cache, Logits::all);
    ++stats.passes;
    stats.drafted += static_cast<int64_t>(draft.size());
    // Row i predicts the token after step[i]; keep drafts while they are what greedy would pick.
    const int64_t V = spec.vocab_size;
    size_t kept = 0;
    bool stopped = false;
    for (; kept < draft.size(); ++kept) {
      const int32_t predicted = argmax(logits.subspan(kept * V, V));
      if (predicted != draft[kept]) break;
      if (is_stop(predicted)) {
        stopped = true;
        break;
      }
      context.push_back(predicted);
      ++stats.generated;
      ++stats.accepted;
      if (!on_token(predicted) || stats.generated >= max_new_tokens) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    next = argmax(logits.subspan(kept * V, V));
  }
  stats.decode_seconds = seconds_since(start);
  return stats;
}

}  // namespace shardlm
