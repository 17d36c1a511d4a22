// A BPE tokenizer assembled from Hugging Face tokenizers' parts: added tokens, normalizer,
// pre-tokenizer, BPE model, post-processor and decoder. hf_tokenizer.h builds one from a
// tokenizer.json, gguf_tokenizer.h from a GGUF file's tokenizer metadata; both byte-level BPE
// (GPT-2, SmolLM2, Llama 3, ...) and SentencePiece-converted BPE with byte fallback (Llama 2, ...).
//
// encode(text, add_bos) gives what transformers' tokenizer(text, add_special_tokens=add_bos) gives:
// add_bos adds whatever the post-processor adds (BOS, and EOS where the template says so).
// A built tokenizer is immutable: encode and decode may be called from several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/added_tokens.h"
#include "runtime/tokenizer/bpe_model.h"
#include "runtime/tokenizer/decoder.h"
#include "runtime/tokenizer/normalizer.h"
#include "runtime/tokenizer/post_processor.h"
#include "runtime/tokenizer/pre_tokenizer.h"
#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

struct BpeTokenizerParts {
  std::unique_ptr<BpeModel> model;               // required
  std::vector<AddedToken> added_tokens;
  std::unique_ptr<Normalizer> normalizer;        // null: none
  std::unique_ptr<PreTokenizer> pre_tokenizer;   // null: each text stretch is one word
  PostProcessor post_processor;
  std::unique_ptr<TokenDecoder> decoder;              // null: tokens joined by spaces, as tokenizers does
  int32_t bos = -1;                              // -1: none
  int32_t eos = -1;
};

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeTokenizerParts parts);

  // One more than the highest id of the vocabulary and the added tokens.
  int64_t vocab_size() const override { return static_cast<int64_t>(token_texts_.size()); }
  int32_t bos() const override { return bos_; }
  int32_t eos() const override { return eos_; }
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const override;
  std::vector<int32_t> encode_literal(std::string_view text, bool add_bos,
                                      std::span<const TextRange> literal) const override;
  // The bytes of `token`, which may end inside a UTF-8 character that the next token completes (feed
  // them to a Utf8Streamer). The first token of the output (previous < 0 or previous == bos()) loses
  // the leading space a Strip or Metaspace decoder removes. Throws for an id outside the vocabulary.
  std::string decode(int32_t previous, int32_t token) const override;

  // The bytes of a whole id sequence, special tokens left out when skip_special, as transformers'
  // decode(ids, skip_special_tokens=...) gives them before replacing invalid UTF-8 with U+FFFD: only
  // the sequence's first token loses a Strip / Metaspace leading space (with skip_special false and a
  // BOS first, that is the BOS, so no space is dropped).
  std::string decode_all(const std::vector<int32_t>& ids, bool skip_special) const;
  // The id of a token by its text (added tokens first, then the vocabulary), or -1.
  int32_t token_id(std::string_view token) const;
  // A token as the vocabulary spells it ("" for an id that no token has).
  const std::string& token_text(int32_t id) const;
  bool is_special(int32_t id) const;
  const PostProcessor& post_processor() const { return post_processor_; }
  const std::vector<AddedToken>& added_tokens() const { return added_tokens_; }

 private:
  // One token's bytes; `first` when it opens the output (where Strip / Metaspace drop a space).
  std::string decode_piece(int32_t token, bool first) const;
  void encode_stretch(std::string_view text, bool at_start, std::vector<int32_t>& ids) const;

  std::unique_ptr<BpeModel> model_;
  std::vector<AddedToken> added_tokens_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  PostProcessor post_processor_;
  std::unique_ptr<TokenDecoder> decoder_;
  int32_t bos_, eos_;
  AddedTokenMatcher raw_matcher_;         // added tokens with normalized == false, matched in the input
  AddedTokenMatcher normalized_matcher_;  // the others, matched in normalized text
  std::vector<std::string> token_texts_;  // by id
  std::vector<bool> special_;             // by id
  TokenIds added_ids_;
};

}  // namespace shardlm
