#include "runtime/engine/token_constraint.h"

#include <algorithm>
#include <limits>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

// "<s>", "</s>", "<|im_end|>", "<|eot_id|>": the spellings special tokens use.
bool spelled_like_special(const std::string& text) {
  return text.size() >= 3 && text.front() == '<' && text.back() == '>' &&
         text.find_first_of(" \n\t") == std::string::npos;
}

}  // namespace

TokenVocabulary::TokenVocabulary(const Tokenizer& tokenizer) {
  const int64_t n = tokenizer.vocab_size();
  bytes_.resize(static_cast<size_t>(n));
  // Any ordinary token as the one before: pieces then read as they do mid-text (with their space).
  const int32_t previous = tokenizer.bos() == 0 ? 1 : 0;
  for (int32_t token = 0; token < n; ++token) {
    if (token == tokenizer.bos() || token == tokenizer.eos()) continue;
    std::string text = tokenizer.decode(previous, token);
    if (text.empty() || spelled_like_special(text)) continue;
    by_first_byte_[static_cast<unsigned char>(text[0])].push_back(token);
    bytes_[static_cast<size_t>(token)] = std::move(text);
  }
}

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonSchemaNode> schema, std::shared_ptr<const TokenVocabulary> vocabulary)
    : vocabulary_(std::move(vocabulary)), matcher_(std::move(schema)) {}

void JsonConstraint::mask(std::span<float> logits, std::span<const int32_t> stop_tokens) const {
  SHARDLM_CHECK(static_cast<int64_t>(logits.size()) >= vocabulary_->size(), "logits for {} tokens, the vocabulary has {}",
                logits.size(), vocabulary_->size());
  std::vector<bool> allowed(logits.size(), false);
  bool any = false;
  if (!matcher_.finished()) {
    // A byte no token may start with rules out every token starting with it at once.
    for (int byte = 0; byte < 256; ++byte) {
      const auto& candidates = vocabulary_->starting_with(static_cast<unsigned char>(byte));
      if (candidates.empty()) continue;
      JsonMatcher first = matcher_;
      if (!first.feed(std::string(1, static_cast<char>(byte)))) continue;
      for (int32_t token : candidates) {
        JsonMatcher trial = first;
        if (trial.feed(std::string_view(vocabulary_->bytes(token)).substr(1))) allowed[static_cast<size_t>(token)] = any = true;
      }
    }
  }
  if (matcher_.complete())
    for (int32_t token : stop_tokens)
      if (token >= 0 && static_cast<size_t>(token) < allowed.size()) allowed[static_cast<size_t>(token)] = any = true;
  SHARDLM_CHECK(any, "structured output: no token of the vocabulary can continue the JSON here");
  for (size_t i = 0; i < logits.size(); ++i)
    if (!allowed[i]) logits[i] = -std::numeric_limits<float>::infinity();
}

void JsonConstraint::accept(int32_t token) {
  SHARDLM_CHECK(token >= 0 && token < vocabulary_->size(), "token {} is outside the vocabulary", token);
  const std::string& bytes = vocabulary_->bytes(token);
  JsonMatcher next = matcher_;
  SHARDLM_CHECK(!bytes.empty() && next.feed(bytes), "structured output: token {} cannot continue the JSON", token);
  matcher_ = std::move(next);
}

}  // namespace shardlm
