#include "runtime/tokenizer/split_pattern.h"

#include "runtime/core/check.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

constexpr std::string_view kAsciiDigitTriples = "[0-9][0-9][0-9]";
constexpr std::string_view kNumbersUpTo3 = R"(\p{N}{1,3})";
constexpr std::string_view kNumber = R"(\p{N})";

// The searched text decoded once: per character its code point, class, \s membership and byte offset.
struct Chars {
  std::vector<char32_t> cp;
  std::vector<UnicodeClass> cls;
  std::vector<bool> space;
  std::vector<size_t> offset;  // n + 1 entries; offset[n] is the text's length
  size_t n = 0;

  explicit Chars(std::string_view text) {
    for (size_t at = 0; at < text.size();) {
      const Utf8Char c = utf8_decode(text, at);
      cp.push_back(c.code_point);
      cls.push_back(unicode_class(c.code_point));
      space.push_back(is_whitespace(c.code_point));
      offset.push_back(at);
      at += c.length;
    }
    n = cp.size();
    offset.push_back(text.size());
  }
  bool letter(size_t i) const { return is_letter(cls[i]); }
  bool number(size_t i) const { return cls[i] == UnicodeClass::Number; }
  bool mark(size_t i) const { return cls[i] == UnicodeClass::Mark; }
  bool crlf(size_t i) const { return cp[i] == '\r' || cp[i] == '\n'; }
  // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] of the GPT-4o pattern.
  bool upper_ish(size_t i) const {
    const UnicodeClass c = cls[i];
    return c == UnicodeClass::Lu || c == UnicodeClass::Lt || c == UnicodeClass::Lm || c == UnicodeClass::Lo ||
           c == UnicodeClass::Mark;
  }
  bool lower_ish(size_t i) const {
    const UnicodeClass c = cls[i];
    return c == UnicodeClass::Ll || c == UnicodeClass::Lm || c == UnicodeClass::Lo || c == UnicodeClass::Mark;
  }
  // End of the \s run starting at p.
  size_t space_run_end(size_t p) const {
    while (p < n && space[p]) ++p;
    return p;
  }
};

// 's|'t|'re|'ve|'m|'ll|'d at p; with fold, case-insensitively as Oniguruma folds (ſ U+017F folds to s).
size_t contraction(const Chars& t, size_t p, bool fold) {
  if (p + 1 >= t.n || t.cp[p] != '\'') return 0;
  const auto is = [&](size_t i, char32_t lower) {
    if (i >= t.n) return false;
    const char32_t c = t.cp[i];
    if (c == lower) return true;
    if (!fold) return false;
    return c == lower - 32 || (lower == 's' && c == 0x17F);
  };
  if (is(p + 1, 's') || is(p + 1, 't') || is(p + 1, 'm') || is(p + 1, 'd')) return 2;
  if ((is(p + 1, 'r') && is(p + 2, 'e')) || (is(p + 1, 'v') && is(p + 2, 'e')) || (is(p + 1, 'l') && is(p + 2, 'l')))
    return 3;
  return 0;
}

// \s*[\r\n]+|\s+(?!\S)|\s+ at p, the tail all the GPT-2-like patterns share. with_newline_run
// enables the first alternative (absent from GPT-2's pattern).
size_t whitespace_tail(const Chars& t, size_t p, bool with_newline_run) {
  if (!t.space[p]) return 0;
  const size_t end = t.space_run_end(p);
  if (with_newline_run) {
    // \s* backtracks from the run's end to its last \r or \n, which [\r\n]+ then takes.
    for (size_t j = end; j > p; --j)
      if (t.crlf(j - 1)) return j - p;
  }
  if (end == t.n) return end - p;          // \s+ up to the end: nothing non-space follows
  if (end - 1 > p) return end - 1 - p;     // leave the last space to the word after it
  return 1;                                // \s+
}

// ' ?X+' where X is a predicate: an optional U+0020 then at least one X.
template <typename Pred>
size_t optional_space_then_run(const Chars& t, size_t p, Pred x) {
  size_t q = p + (t.cp[p] == ' ' ? 1 : 0);
  if (q >= t.n || !x(q)) return 0;  // without the space, p itself is a space and no X
  while (q < t.n && x(q)) ++q;
  return q - p;
}

size_t match_gpt2(const Chars& t, size_t p) {
  if (const size_t k = contraction(t, p, false)) return k;
  if (const size_t k = optional_space_then_run(t, p, [&](size_t i) { return t.letter(i); })) return k;
  if (const size_t k = optional_space_then_run(t, p, [&](size_t i) { return t.number(i); })) return k;
  if (const size_t k =
          optional_space_then_run(t, p, [&](size_t i) { return !t.space[i] && !t.letter(i) && !t.number(i); }))
    return k;
  return whitespace_tail(t, p, false);
}

size_t match_llama3(const Chars& t, size_t p, int max_digits, bool marks_are_letters) {
  if (const size_t k = contraction(t, p, true)) return k;
  const auto letter = [&](size_t i) { return t.letter(i) || (marks_are_letters && t.mark(i)); };
  // [^\r\n\p{L}\p{N}]?\p{L}+ : the optional character first, then without it.
  size_t start = t.n;
  if (!t.crlf(p) && !t.letter(p) && !t.number(p) && p + 1 < t.n && letter(p + 1)) start = p + 1;
  else if (letter(p)) start = p;
  if (start < t.n) {
    size_t q = start;
    while (q < t.n && letter(q)) ++q;
    return q - p;
  }
  if (t.number(p)) {
    size_t q = p;
    while (q < t.n && q - p < static_cast<size_t>(max_digits) && t.number(q)) ++q;
    return q - p;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const auto other = [&](size_t i) { return !t.space[i] && !t.letter(i) && !t.number(i) && !(marks_are_letters && t.mark(i)); };
  if (size_t k = optional_space_then_run(t, p, other)) {
    while (p + k < t.n && t.crlf(p + k)) ++k;
    return k;
  }
  return whitespace_tail(t, p, true);
}

// GPT-4o / Llama 4 (contractions, digits in threes) and Tekken (neither).
size_t match_case_aware(const Chars& t, size_t p, int max_digits, bool contractions) {
  const bool prefix_ok = !t.crlf(p) && !t.letter(p) && !t.number(p);
  const auto finish = [&](size_t end) {
    if (contractions) end += contraction(t, end, true);
    return end - p;
  };
  // [^\r\n\p{L}\p{N}]?[Lu Lt Lm Lo M]*[Ll Lm Lo M]+ : U* greedy, then backtracked until W+ fits.
  for (const bool with_prefix : {true, false}) {
    if (with_prefix && !prefix_ok) continue;
    const size_t a = p + (with_prefix ? 1 : 0);
    size_t upper_end = a;
    while (upper_end < t.n && t.upper_ish(upper_end)) ++upper_end;
    for (size_t k = upper_end;; --k) {
      if (k < t.n && t.lower_ish(k)) {
        size_t end = k;
        while (end < t.n && t.lower_ish(end)) ++end;
        return finish(end);
      }
      if (k == a) break;
    }
  }
  // [^\r\n\p{L}\p{N}]?[Lu Lt Lm Lo M]+[Ll Lm Lo M]*
  for (const bool with_prefix : {true, false}) {
    if (with_prefix && !prefix_ok) continue;
    const size_t a = p + (with_prefix ? 1 : 0);
    if (a >= t.n || !t.upper_ish(a)) continue;
    size_t end = a;
    while (end < t.n && t.upper_ish(end)) ++end;
    while (end < t.n && t.lower_ish(end)) ++end;
    return finish(end);
  }
  if (t.number(p)) {
    size_t q = p;
    while (q < t.n && q - p < static_cast<size_t>(max_digits) && t.number(q)) ++q;
    return q - p;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
  if (size_t k = optional_space_then_run(t, p, [&](size_t i) { return !t.space[i] && !t.letter(i) && !t.number(i); })) {
    while (p + k < t.n && (t.crlf(p + k) || t.cp[p + k] == '/')) ++k;
    return k;
  }
  return whitespace_tail(t, p, true);
}

// ' ?[^(\s|[.,!?…。，、।۔،])]+' : Oniguruma reads the inner [...] as a nested class, so the outer one
// excludes '(', '|', ')', whitespace and that punctuation.
size_t match_bloom(const Chars& t, size_t p) {
  const auto excluded = [&](size_t i) {
    switch (t.cp[i]) {
      case '(': case ')': case '|': case '.': case ',': case '!': case '?':
      case 0x2026: case 0x3002: case 0xFF0C: case 0x3001: case 0x0964: case 0x06D4: case 0x060C:
        return true;
      default:
        return static_cast<bool>(t.space[i]);
    }
  };
  return optional_space_then_run(t, p, [&](size_t i) { return !excluded(i); });
}

}  // namespace

std::optional<SplitPattern> SplitPattern::try_from_regex(std::string_view regex) {
  SplitPattern pattern(Kind::Gpt2, std::string(regex));
  if (regex == known_regex::kGpt2) return pattern;
  if (regex == known_regex::kLlama3 || regex == known_regex::kQwen2 || regex == known_regex::kQwen35) {
    pattern.kind_ = Kind::Llama3;
    pattern.max_digits_ = regex == known_regex::kLlama3 ? 3 : 1;
    pattern.marks_are_letters_ = regex == known_regex::kQwen35;
    return pattern;
  }
  if (regex == known_regex::kGpt4o || regex == known_regex::kTekken) {
    pattern.kind_ = Kind::CaseAware;
    pattern.max_digits_ = regex == known_regex::kGpt4o ? 3 : 1;
    pattern.contractions_ = regex == known_regex::kGpt4o;
    return pattern;
  }
  if (regex == known_regex::kBloom) {
    pattern.kind_ = Kind::Bloom;
    return pattern;
  }
  if (regex == kAsciiDigitTriples) {
    pattern.kind_ = Kind::AsciiDigitTriples;
    return pattern;
  }
  if (regex == kNumbersUpTo3 || regex == kNumber) {
    pattern.kind_ = Kind::Numbers;
    pattern.max_digits_ = regex == kNumber ? 1 : 3;
    return pattern;
  }
  return std::nullopt;
}

std::string SplitPattern::unknown_regex_message(std::string_view regex) {
  return fmt::format(
      "split regex '{}' is not one ShardLM knows (it matches GPT-2's, Llama 3's, Qwen 2's, Qwen 3.5's, GPT-4o's, "
      "Tekken's, BLOOM's and Falcon's patterns by hand, not through a regex engine)",
      regex);
}

SplitPattern SplitPattern::from_regex(std::string_view regex) {
  auto pattern = try_from_regex(regex);
  SHARDLM_CHECK(pattern.has_value(), "{}", unknown_regex_message(regex));
  return std::move(*pattern);
}

SplitPattern SplitPattern::from_string(std::string_view literal) {
  SHARDLM_CHECK(!literal.empty(), "a split pattern string must not be empty");
  return SplitPattern(Kind::Literal, std::string(literal));
}

SplitPattern SplitPattern::gpt2() { return SplitPattern(Kind::Gpt2, std::string(known_regex::kGpt2)); }

std::vector<TextMatch> SplitPattern::find_all(std::string_view text) const {
  std::vector<TextMatch> matches;
  if (kind_ == Kind::Literal) {
    for (size_t at = text.find(source_); at != std::string_view::npos; at = text.find(source_, at + source_.size()))
      matches.push_back({at, at + source_.size()});
    return matches;
  }
  const Chars t(text);
  for (size_t p = 0; p < t.n;) {
    size_t length = 0;
    switch (kind_) {
      case Kind::Gpt2: length = match_gpt2(t, p); break;
      case Kind::Llama3: length = match_llama3(t, p, max_digits_, marks_are_letters_); break;
      case Kind::CaseAware: length = match_case_aware(t, p, max_digits_, contractions_); break;
      case Kind::Bloom: length = match_bloom(t, p); break;
      case Kind::AsciiDigitTriples: {
        const auto digit = [&](size_t i) { return i < t.n && t.cp[i] >= '0' && t.cp[i] <= '9'; };
        length = digit(p) && digit(p + 1) && digit(p + 2) ? 3 : 0;
        break;
      }
      case Kind::Numbers: {
        while (p + length < t.n && length < static_cast<size_t>(max_digits_) && t.number(p + length)) ++length;
        break;
      }
      case Kind::Literal: break;
    }
    if (length == 0) {
      ++p;
      continue;
    }
    matches.push_back({t.offset[p], t.offset[p + length]});
    p += length;
  }
  return matches;
}

}  // namespace shardlm
