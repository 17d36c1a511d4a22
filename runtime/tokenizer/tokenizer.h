// Text <-> token ids. One interface for every tokenizer kind ShardLM reads.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace shardlm {

// Bytes [begin, end) of a text.
struct TextRange {
  size_t begin = 0, end = 0;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int64_t vocab_size() const = 0;
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  // Token ids of `text`, prefixed with BOS when add_bos.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos) const = 0;
  // encode, except that special tokens are not recognised where they overlap one of `literal` (a
  // chat's message contents: a user who types "<|im_start|>" gets those characters, not a new turn).
  // Tokenizers that recognise no special text (SentencePiece's llama2.c form) have nothing to skip.
  virtual std::vector<int32_t> encode_literal(std::string_view text, bool add_bos,
                                              std::span<const TextRange> literal) const {
    (void)literal;
    return encode(text, add_bos);
  }
  // The bytes `token` stands for when it follows `previous` (some pieces drop a leading space after BOS).
  virtual std::string decode(int32_t previous, int32_t token) const = 0;
};

}  // namespace shardlm
