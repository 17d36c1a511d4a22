#include "runtime/tokenizer/added_tokens.h"

#include <optional>

#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

// Approximates \w (the Rust regex crate's) for single_word: letters, marks, numbers and '_'.
bool is_word_char(char32_t c) {
  if (c == '_') return true;
  const UnicodeClass cls = unicode_class(c);
  return is_letter(cls) || cls == UnicodeClass::Mark || cls == UnicodeClass::Number;
}

// The last character of text[0, end), or nothing when end is 0.
std::optional<Utf8Char> last_char(std::string_view text, size_t end) {
  if (end == 0) return std::nullopt;
  size_t at = end - 1;
  while (at > 0 && end - at < 4 && (static_cast<uint8_t>(text[at]) & 0xC0) == 0x80) --at;
  const Utf8Char c = utf8_decode(text, at);
  if (at + c.length == end) return c;
  return Utf8Char{kInvalidBase + static_cast<uint8_t>(text[end - 1]), 1};
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(const std::vector<AddedToken>& tokens, const std::vector<std::string>& patterns)
    : tokens_(tokens) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const std::string& pattern = patterns[i];
    if (pattern.empty()) continue;
    uint32_t node = 0;
    for (const char b : pattern) {
      const uint64_t key = (static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(b);
      const auto found = edges_.find(key);
      if (found != edges_.end()) {
        node = found->second;
      } else {
        const auto next = static_cast<uint32_t>(terminal_.size());
        terminal_.push_back(-1);
        edges_.emplace(key, next);
        node = next;
      }
    }
    if (terminal_[node] < 0) terminal_[node] = static_cast<int>(i);  // the same text twice: the first wins
  }
}

int AddedTokenMatcher::longest_at(std::string_view text, size_t at, size_t& length) const {
  int best = -1;
  uint32_t node = 0;
  for (size_t i = at; i < text.size(); ++i) {
    const auto found = edges_.find((static_cast<uint64_t>(node) << 8) | static_cast<uint8_t>(text[i]));
    if (found == edges_.end()) break;
    node = found->second;
    if (terminal_[node] >= 0) {
      best = terminal_[node];
      length = i + 1 - at;
    }
  }
  return best;
}

std::vector<TextSegment> AddedTokenMatcher::split(std::string_view text) const {
  std::vector<TextSegment> segments;
  size_t done = 0;  // text before this is in segments
  for (size_t at = 0; at < text.size();) {
    size_t length = 0;
    const int index = edges_.empty() ? -1 : longest_at(text, at, length);
    if (index < 0) {
      ++at;
      continue;
    }
    const AddedToken& token = tokens_[index];
    size_t begin = at, end = at + length;
    at = end;
    if (token.single_word) {
      const auto before = last_char(text, begin);
      const bool word_before = before && is_word_char(before->code_point);
      const bool word_after = end < text.size() && is_word_char(utf8_decode(text, end).code_point);
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (begin > done) {
        const auto before = last_char(text, begin);
        if (!before || !is_whitespace(before->code_point)) break;
        begin -= before->length;
      }
    }
    if (token.rstrip) {
      while (end < text.size()) {
        const Utf8Char after = utf8_decode(text, end);
        if (!is_whitespace(after.code_point)) break;
        end += after.length;
      }
      at = end;
    }
    if (done < begin) segments.push_back({done, begin, -1});
    segments.push_back({begin, end, token.id});
    done = end;
  }
  if (done < text.size()) segments.push_back({done, text.size(), -1});
  return segments;
}

}  // namespace shardlm
