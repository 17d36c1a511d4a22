// Added tokens (tokenizer.json's added_tokens; GGUF control and user-defined tokens): strings that
// are matched whole in the input before anything else, leftmost and then longest first, so a
// special token's text becomes its id instead of being cut into pieces.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace shardlm {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;       // the match takes the whitespace before it
  bool rstrip = false;       // the match takes the whitespace after it
  bool single_word = false;  // only matches when no word character touches it
  bool normalized = false;   // matched in normalized text (after the normalizer), not the raw input
};

// A stretch of text: an added token's id, or -1 for text the model still has to encode.
struct TextSegment {
  size_t begin;
  size_t end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // `patterns[i]` is what token i is matched as (its content, or for normalized tokens its content
  // after the normalizer). Empty patterns never match.
  AddedTokenMatcher(const std::vector<AddedToken>& tokens, const std::vector<std::string>& patterns);
  bool empty() const { return tokens_.empty(); }
  // The text cut into added tokens and the stretches between them (empty stretches dropped).
  std::vector<TextSegment> split(std::string_view text) const;

 private:
  // The longest pattern starting at `at`: its token index, or -1; sets length.
  int longest_at(std::string_view text, size_t at, size_t& length) const;
  // A byte trie: edges keyed by node << 8 | byte; terminal_[node] is a token index or -1.
  std::unordered_map<uint64_t, uint32_t> edges_;
  std::vector<int> terminal_{-1};
  std::vector<AddedToken> tokens_;
};

}  // namespace shardlm
