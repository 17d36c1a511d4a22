#include "runtime/tokenizer/unicode.h"

#include <algorithm>

namespace shardlm {

namespace unicode_tables {
extern const char kUnicodeVersion[];
extern const size_t kClassRunCount;
extern const uint32_t kClassRuns[];
extern const size_t kWhitespaceRangeCount;
extern const uint32_t kWhitespaceRanges[][2];
}  // namespace unicode_tables

size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xC2) return 0;  // a continuation byte, or C0/C1 which only start overlong forms
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  if (lead < 0xF5) return 4;
  return 0;
}

Utf8Char utf8_decode(std::string_view text, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[at + i]); };
  const uint8_t lead = byte(0);
  const size_t length = utf8_sequence_length(lead);
  const Utf8Char invalid{kInvalidBase + lead, 1};
  if (length == 1) return {lead, 1};
  if (length == 0 || at + length > text.size()) return invalid;
  // The second byte's range rules out overlong forms, surrogates and values past U+10FFFF.
  uint8_t low = 0x80, high = 0xBF;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  if (byte(1) < low || byte(1) > high) return invalid;
  for (size_t i = 2; i < length; ++i)
    if ((byte(i) & 0xC0) != 0x80) return invalid;
  char32_t cp = lead & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (byte(i) & 0x3F);
  return {cp, length};
}

void utf8_append(std::string& out, char32_t cp) {
  if (cp >= kInvalidBase) {
    out.push_back(static_cast<char>(cp - kInvalidBase));
  } else if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (size_t at = 0; at < text.size(); at += utf8_decode(text, at).length) ++count;
  return count;
}

UnicodeClass unicode_class(char32_t cp) {
  if (cp >= kInvalidBase) return UnicodeClass::Other;
  using unicode_tables::kClassRunCount;
  using unicode_tables::kClassRuns;
  // The last run starting at or before cp: entries compare by code point in their upper bits.
  const uint32_t key = (static_cast<uint32_t>(cp) << 4) | 0xF;
  const uint32_t* run = std::upper_bound(kClassRuns, kClassRuns + kClassRunCount, key) - 1;
  return static_cast<UnicodeClass>(*run & 0xF);
}

const char* unicode_version() { return unicode_tables::kUnicodeVersion; }

bool is_punctuation(char32_t cp) {
  if (cp < 0x80) return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60) ||
                        (cp >= 0x7B && cp <= 0x7E);
  return unicode_class(cp) == UnicodeClass::Punctuation;
}

bool is_whitespace(char32_t cp) {
  using unicode_tables::kWhitespaceRangeCount;
  using unicode_tables::kWhitespaceRanges;
  for (size_t i = 0; i < kWhitespaceRangeCount && kWhitespaceRanges[i][0] <= cp; ++i)
    if (cp <= kWhitespaceRanges[i][1]) return true;
  return false;
}

}  // namespace shardlm
