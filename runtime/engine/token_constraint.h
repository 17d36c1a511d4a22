// Constrained sampling: which tokens may come next in a sequence whose output must follow a grammar
// (structured output). The engine masks the logits before sampling and tells the constraint each
// token it kept; a finished constraint ends the sequence (FinishReason::stop).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "runtime/engine/json_grammar.h"
#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

// Every token's bytes as it reads mid-text, and the tokens by first byte, made once per tokenizer.
// Tokens that stand for no bytes, or are spelled like special tokens ("<|im_end|>", "</s>"), are left
// out: constrained output is text.
class TokenVocabulary {
 public:
  explicit TokenVocabulary(const Tokenizer& tokenizer);
  int64_t size() const { return static_cast<int64_t>(bytes_.size()); }
  const std::string& bytes(int32_t token) const { return bytes_[static_cast<size_t>(token)]; }
  const std::vector<int32_t>& starting_with(unsigned char byte) const { return by_first_byte_[byte]; }

 private:
  std::vector<std::string> bytes_;
  std::array<std::vector<int32_t>, 256> by_first_byte_;
};

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets the logits of the tokens that may not come next to -infinity; `stop_tokens` may come only
  // where the output could end. Throws when no token at all may come.
  virtual void mask(std::span<float> logits, std::span<const int32_t> stop_tokens) const = 0;
  // The sampled token (never a stop token).
  virtual void accept(int32_t token) = 0;
  // Nothing may follow: the sequence ends here.
  virtual bool finished() const = 0;
};

// Output that is a JSON value valid for a schema (runtime/engine/json_grammar.h).
class JsonConstraint : public TokenConstraint {
 public:
  JsonConstraint(std::shared_ptr<const JsonSchemaNode> schema, std::shared_ptr<const TokenVocabulary> vocabulary);
  void mask(std::span<float> logits, std::span<const int32_t> stop_tokens) const override;
  void accept(int32_t token) override;
  bool finished() const override { return matcher_.finished(); }
  const JsonMatcher& matcher() const { return matcher_; }

 private:
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  JsonMatcher matcher_;
};

}  // namespace shardlm
