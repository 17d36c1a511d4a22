// The BPE model of a tokenizer.json (and of GGUF "gpt2"/"llama" vocabularies): a vocabulary of token
// strings and a ranked list of merges. A word starts as one symbol per character; the adjacent pair
// with the lowest-ranked merge is merged, leftmost first among equals, until no pair has a merge.
// A heap of candidate pairs over a linked list of symbols keeps long words O(n log n).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace shardlm {

struct BpeOptions {
  std::optional<std::string> unk_token;   // stands for characters not in the vocabulary (else dropped)
  std::string continuing_subword_prefix;  // put before every character but a word's first ("" for none)
  std::string end_of_word_suffix;         // put after a word's last character ("" for none)
  bool fuse_unk = false;                  // consecutive unknown characters become one unk token
  bool byte_fallback = false;             // unknown characters become their <0xXX> byte tokens
  bool ignore_merges = false;             // a word that is itself a token is that token
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using TokenIds = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // `origin` prefixes error messages (the file, and the field holding the merges). Throws when a
  // merge names a token, or makes one, that the vocabulary lacks, or when unk_token is not in it.
  BpeModel(TokenIds vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
           const std::string& origin);

  // Appends the ids of one pre-tokenized word.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // The id of a token string, or -1.
  int32_t token_id(std::string_view token) const;
  const TokenIds& vocab() const { return vocab_; }
  const BpeOptions& options() const { return options_; }
  size_t merge_count() const { return merges_.size(); }

 private:
  struct Merge {
    uint32_t rank;
    int32_t merged;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* find_merge(int32_t left, int32_t right) const;

  TokenIds vocab_;
  BpeOptions options_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];  // <0xXX> tokens, -1 where absent
};

}  // namespace shardlm
