// SentencePiece-style BPE as llama2.c's tokenizer files hold it (tok512.bin, tokenizer.bin): pieces
// with scores; encoding starts from characters (bytes as <0xXX> pieces when a character is not a
// piece) and merges the adjacent pair whose merged piece scores highest until none merges.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

class SentencePieceBpe final : public Tokenizer {
 public:
  // Reads a llama2.c tokenizer file of vocab_size pieces: int32 max_token_length, then per piece
  // f32 score, int32 byte length, bytes. Throws naming the file and the bad field.
  static SentencePieceBpe read_llama2c(const std::string& path, int64_t vocab_size);
  SentencePieceBpe(std::vector<std::string> pieces, std::vector<float> scores);

  int64_t vocab_size() const override { return static_cast<int64_t>(pieces_.size()); }
  int32_t bos() const override { return 1; }
  int32_t eos() const override { return 2; }
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::string decode(int32_t previous, int32_t token) const override;

 private:
  int32_t lookup(std::string_view piece) const;  // -1 when not a piece
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> ids_;  // views into pieces_
  int32_t byte_base_ = 3;  // id of <0x00>; byte b is byte_base_ + b
};

}  // namespace shardlm
