#include "runtime/engine/speculative.h"

#include <algorithm>
#include <chrono>

#include "runtime/core/check.h"
#include "runtime/engine/speculative_sampling.h"

namespace shardlm {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The longest n <= max_ngram whose final n-gram occurred earlier, and where that occurrence's
// continuation starts; {0, 0} when none did.
std::pair<int64_t, int64_t> last_match(std::span<const int32_t> context, int64_t max_ngram) {
  const auto length = static_cast<int64_t>(context.size());
  for (int64_t n = std::min(max_ngram, length - 1); n >= 1; --n) {
    const auto tail = context.subspan(length - n);
    // The most recent earlier occurrence: scan backwards from just before the tail itself.
    for (int64_t start = length - n - 1; start >= 0; --start) {
      if (std::equal(tail.begin(), tail.end(), context.begin() + start)) return {n, start + n};
    }
  }
  return {0, 0};
}

}  // namespace

std::vector<int32_t> prompt_lookup_draft(std::span<const int32_t> context, int64_t k, int64_t max_ngram) {
  const auto [n, from] = last_match(context, max_ngram);
  if (n == 0) return {};
  const int64_t count = std::min(k, static_cast<int64_t>(context.size()) - from);
  return std::vector<int32_t>(context.begin() + from, context.begin() + from + count);
}

void PromptLookupDrafter::draft(std::span<const int32_t> context, int64_t k, Draft& out) {
  out.probs.clear();
  if (!adaptive_) {
    out.tokens = prompt_lookup_draft(context, k, max_ngram_);
    return;
  }
  const auto length = static_cast<int64_t>(context.size());
  if (limit_ == 0) limit_ = k;
  if (last_start_ >= 0 && last_length_ > 0) {
    // The target kept `kept` drafted tokens, then added its own next one.
    const int64_t kept = length - last_start_ - 1;
    limit_ = kept >= last_length_ ? std::max(limit_ + 1, 2 * limit_) : kept + 1;
  }
  limit_ = std::clamp<int64_t>(limit_, 1, std::max<int64_t>(k, 1));
  const auto [n, from] = last_match(context, max_ngram_);
  const int64_t wanted = std::min(k, n >= 2 ? limit_ : std::min<int64_t>(limit_, 2));
  const int64_t count = n == 0 ? 0 : std::min(wanted, length - from);
  out.tokens.assign(context.begin() + from, context.begin() + from + count);
  last_start_ = length;
  last_length_ = count;
}

SpeculationStats generate_speculative(Decoder& model, Drafter& drafter, const std::vector<int32_t>& prompt,
                                      int64_t max_new_tokens, int64_t draft_tokens, const SamplingParams& sampling,
                                      const std::function<bool(int32_t)>& on_token) {
  const ModelSpec& spec = model.spec();
  const auto prompt_length = static_cast<int64_t>(prompt.size());
  SHARDLM_CHECK(prompt_length > 0 && prompt_length <= spec.max_seq_len,
                "the prompt is {} tokens; it must be 1 to {} (the model's context)", prompt_length, spec.max_seq_len);
  SHARDLM_CHECK(max_new_tokens >= 1 && draft_tokens >= 1, "speculation needs max new tokens and draft tokens >= 1");
  SpeculationStats stats;
  Sampler sampler(sampling);
  const bool greedy = sampling.temperature == 0.0f;
  UniformSource random(sampling.seed);
  std::vector<float> p;
  // Greedy picks the (penalised) argmax and draws nothing; sampling draws from the Sampler's
  // distribution with this run's own generator, which the acceptance rule shares.
  auto pick = [&](std::span<const float> row, std::span<const int32_t> context) {
    if (greedy) return sampler.sample(row, context);
    sampler.distribution(row, context, p);
    return sample_from(p, random.next());
  };
  // Room for the drafts too: a pass writes K/V for every draft token, kept or not (a rejected
  // token's slot is simply written over by the next pass, since attention never reads past it).
  KvCache cache(spec, std::min(spec.max_seq_len, prompt_length + max_new_tokens + draft_tokens));
  auto is_stop = [&](int32_t token) {
    return std::find(spec.stop_tokens.begin(), spec.stop_tokens.end(), token) != spec.stop_tokens.end();
  };
  std::vector<int32_t> context = prompt;
  auto start = std::chrono::steady_clock::now();
  int32_t next = pick(model.forward(prompt, 0, cache), context);
  stats.prefill_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  Draft draft;
  const int64_t V = spec.vocab_size;
  for (;;) {
    if (is_stop(next)) break;
    context.push_back(next);
    ++stats.generated;
    const int64_t position = static_cast<int64_t>(context.size()) - 1;  // where `next` goes
    if (!on_token(next) || stats.generated >= max_new_tokens || position >= cache.capacity()) break;
    // Draft, limited by what may still be generated and by the cache.
    const int64_t room = std::min(max_new_tokens - stats.generated, cache.capacity() - position - 1);
    draft.tokens.clear();
    draft.probs.clear();
    if (room > 0) drafter.draft(context, std::min(draft_tokens, room), draft);
    SHARDLM_CHECK(static_cast<int64_t>(draft.tokens.size()) <= std::max<int64_t>(room, 0) &&
                      (draft.probs.empty() || draft.probs.size() == draft.tokens.size()),
                  "the drafter returned {} tokens where at most {} fit", draft.tokens.size(), room);
    std::vector<int32_t> step = {next};
    step.insert(step.end(), draft.tokens.begin(), draft.tokens.end());
    const auto logits = model.forward(step, position, cache, Logits::all);
    ++stats.passes;
    stats.drafted += static_cast<int64_t>(draft.tokens.size());
    // Row i is the target's prediction after step[i]: keep drafts while the rule accepts them.
    bool stopped = false, rejected = false;
    size_t kept = 0;
    for (; kept < draft.tokens.size(); ++kept) {
      const int32_t token = draft.tokens[kept];
      const auto row = logits.subspan(kept * V, V);
      if (greedy) {
        next = sampler.sample(row, context);
        rejected = next != token;
      } else {
        sampler.distribution(row, context, p);
        const std::span<const float> q =
            draft.probs.empty() ? std::span<const float>() : std::span<const float>(draft.probs[kept]);
        const DraftVerdict verdict = verify_draft_token(p, q, token, random);
        rejected = !verdict.accepted;
        next = verdict.replacement;
      }
      if (rejected) break;
      if (is_stop(token)) {
        stopped = true;
        break;
      }
      context.push_back(token);
      ++stats.generated;
      ++stats.accepted;
      if (!on_token(token) || stats.generated >= max_new_tokens) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    // Every draft kept: the row after the last one gives the next token for free.
    if (!rejected) next = pick(logits.subspan(kept * V, V), context);
  }
  stats.decode_seconds = seconds_since(start);
  return stats;
}

SpeculationStats generate_greedy_speculative(Decoder& model, const std::vector<int32_t>& prompt,
                                             int64_t max_new_tokens, int64_t draft_tokens,
                                             const std::function<bool(int32_t)>& on_token) {
  PromptLookupDrafter drafter;
  return generate_speculative(model, drafter, prompt, max_new_tokens, draft_tokens, SamplingParams{0.0f, 0, 1.0f, 0},
                              on_token);
}

}  // namespace shardlm
