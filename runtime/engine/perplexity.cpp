#include "runtime/engine/perplexity.h"

#include <algorithm>
#include <numeric>

#include "runtime/core/check.h"
#include "runtime/model/kv_pool.h"

namespace shardlm {
namespace {

constexpr int64_t kBlockSize = 16;

// -log p(target) from one row of logits: log-sum-exp in double, shifted by the largest logit.
double negative_log_likelihood(const float* logits, int64_t vocab, int32_t target) {
  const float largest = *std::max_element(logits, logits + vocab);
  double sum = 0.0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - largest);
  return std::log(sum) + largest - logits[target];
}

}  // namespace

PerplexityScore score_text(Decoder& decoder, const std::vector<int32_t>& tokens, int32_t bos, int64_t context,
                           DType kv_dtype) {
  const ModelSpec& spec = decoder.spec();
  const int64_t window = std::min(context, spec.max_seq_len);
  const bool has_bos = bos >= 0;
  const int64_t per_window = has_bos ? window - 1 : window;  // text tokens a window covers
  SHARDLM_CHECK(per_window >= (has_bos ? 1 : 2), "perplexity: a window of {} positions scores nothing", window);
  SHARDLM_CHECK(static_cast<int64_t>(tokens.size()) >= (has_bos ? 1 : 2), "perplexity: {} token(s) are too few to score",
                tokens.size());
  for (int32_t id : tokens)
    SHARDLM_CHECK(id >= 0 && id < spec.vocab_size, "perplexity: token {} is outside the vocabulary of {}", id,
                  spec.vocab_size);

  const int64_t blocks = (window + kBlockSize - 1) / kBlockSize;
  KvPool pool(spec, blocks, kBlockSize, kv_dtype, decoder.ops().memory());
  std::vector<int32_t> block_table(blocks);
  std::iota(block_table.begin(), block_table.end(), 0);

  PerplexityScore score;
  for (size_t first = 0; first < tokens.size(); first += per_window) {
    const size_t end = std::min(tokens.size(), first + static_cast<size_t>(per_window));
    // Inputs: BOS (if any) and every token of the window but its last; each predicts the next.
    std::vector<int32_t> inputs;
    if (has_bos) inputs.push_back(bos);
    inputs.insert(inputs.end(), tokens.begin() + static_cast<int64_t>(first), tokens.begin() + static_cast<int64_t>(end) - 1);
    const size_t first_target = has_bos ? first : first + 1;
    if (inputs.empty() || first_target >= end) continue;  // a lone last token without a BOS
    const SequenceSlice sequence{inputs, 0, nullptr, &pool, block_table};
    const std::span<const float> logits = decoder.forward_every_position(sequence);
    for (size_t target = first_target; target < end; ++target) {
      score.total_nll += negative_log_likelihood(logits.data() + (target - first_target) * spec.vocab_size,
                                                 spec.vocab_size, tokens[target]);
      ++score.tokens;
    }
    ++score.windows;
  }
  return score;
}

}  // namespace shardlm
