// The regular expressions tokenizer.json files split text with, matched by hand. Hugging Face
// tokenizers runs them through Oniguruma; ShardLM knows the handful real checkpoints use (GPT-2's,
// Llama 3's, Qwen 2's and 3.5's, GPT-4o's / Llama 4's, Mistral's Tekken, BLOOM's, Falcon's digit
// groups) and reproduces their leftmost-first, backtracking semantics exactly. Any other regex is
// refused with its text, so a new checkpoint fails loudly instead of tokenizing wrongly.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shardlm {

// The regexes as tokenizer.json files spell them (GGUF pre-tokenizer names map onto the same ones).
namespace known_regex {
inline constexpr std::string_view kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kQwen35 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?)"
    R"(|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"(|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*)"
    R"(|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
inline constexpr std::string_view kBloom = " ?[^(\\s|[.,!?\u2026\u3002\uff0c\u3001\u0964\u06d4\u060c])]+";
}  // namespace known_regex

// A half-open byte range [begin, end) of the searched text.
struct TextMatch {
  size_t begin;
  size_t end;
};

class SplitPattern {
 public:
  // The pattern for a regex as tokenizer.json spells it (after JSON unescaping). Throws naming the
  // regex when it is not one of the known ones.
  static SplitPattern from_regex(std::string_view regex);
  // The same, or nothing for an unknown regex.
  static std::optional<SplitPattern> try_from_regex(std::string_view regex);
  // What from_regex says about a regex it does not know.
  static std::string unknown_regex_message(std::string_view regex);
  // Occurrences of a literal string (tokenizer.json's {"String": ...} patterns). Must not be empty.
  static SplitPattern from_string(std::string_view literal);
  // GPT-2's pattern, which the ByteLevel pre-tokenizer applies when use_regex is true.
  static SplitPattern gpt2();

  // Every match, leftmost first and not overlapping, as a regex engine's find-all reports them.
  std::vector<TextMatch> find_all(std::string_view text) const;
  // The regex or literal this pattern was made from.
  const std::string& source() const { return source_; }

  enum class Kind { Literal, Gpt2, Llama3, CaseAware, Bloom, AsciiDigitTriples, Numbers };

 private:
  SplitPattern(Kind kind, std::string source) : kind_(kind), source_(std::move(source)) {}
  Kind kind_;
  std::string source_;
  int max_digits_ = 0;             // Llama3, CaseAware, Numbers: \p{N}{1,max_digits_}
  bool marks_are_letters_ = false;  // Llama3: Qwen 3.5 spells letters [\p{L}\p{M}]
  bool contractions_ = false;      // CaseAware: a trailing (?i:'s|'t|...) after each word
};

}  // namespace shardlm
