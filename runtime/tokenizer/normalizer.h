// Normalizers: rewrite text before it is pre-tokenized, as tokenizer.json's normalizer section says.
// The ones Llama-style (SentencePiece-converted) checkpoints use: Prepend, Replace (of a literal
// string), Strip, and a Sequence of them. Unicode normalization forms (NFC, NFKC, ...) are refused
// by the reader rather than approximated.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shardlm {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  virtual std::string apply(std::string_view text) const = 0;
};

// Puts `prefix` before any non-empty text.
std::unique_ptr<Normalizer> make_prepend_normalizer(std::string prefix);
// Replaces every occurrence of `pattern` (non-empty), left to right, by `content`.
std::unique_ptr<Normalizer> make_replace_normalizer(std::string pattern, std::string content);
// Removes leading (left) and trailing (right) whitespace.
std::unique_ptr<Normalizer> make_strip_normalizer(bool left, bool right);
std::unique_ptr<Normalizer> make_sequence_normalizer(std::vector<std::unique_ptr<Normalizer>> steps);

// Every occurrence of pattern in text replaced by content (pattern must not be empty).
std::string replace_all(std::string_view text, std::string_view pattern, std::string_view content);

}  // namespace shardlm
