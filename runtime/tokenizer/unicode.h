// UTF-8 decoding and encoding, and the Unicode classes tokenizer split patterns test (\p{L}, \p{N},
// \p{M}, \s, punctuation), looked up in the generated tables of unicode_tables.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace shardlm {

// The classes kClassRuns distinguishes; values match make_unicode_tables.py.
enum class UnicodeClass : uint8_t { Lu, Ll, Lt, Lm, Lo, Mark, Number, Punctuation, Other };

// One decoded character: its code point and how many bytes of the text it took. An invalid or
// truncated sequence decodes as one byte with code point kInvalidBase + that byte, which is no
// Unicode character, so every byte of any text belongs to exactly one "character".
struct Utf8Char {
  char32_t code_point;
  size_t length;
};
inline constexpr char32_t kInvalidBase = 0x110000;

// The character starting at text[at] (at < text.size()). Overlong forms, surrogates and values above
// U+10FFFF are invalid.
Utf8Char utf8_decode(std::string_view text, size_t at);
// Appends the UTF-8 form of a valid code point (or, for kInvalidBase + b, the byte b itself).
void utf8_append(std::string& out, char32_t code_point);
// Bytes a valid sequence starting with lead takes: 1..4, or 0 when lead cannot start one.
size_t utf8_sequence_length(uint8_t lead);
// Number of characters (as utf8_decode counts them) in text.
size_t utf8_length(std::string_view text);

UnicodeClass unicode_class(char32_t code_point);
// The version of the Unicode tables (Oniguruma in Hugging Face tokenizers uses 16.0.0).
const char* unicode_version();

inline bool is_letter(UnicodeClass c) { return c <= UnicodeClass::Lo; }
inline bool is_letter(char32_t cp) { return is_letter(unicode_class(cp)); }
inline bool is_number(char32_t cp) { return unicode_class(cp) == UnicodeClass::Number; }
inline bool is_mark(char32_t cp) { return unicode_class(cp) == UnicodeClass::Mark; }
// Unicode punctuation (P*) or ASCII punctuation, as the tokenizers Punctuation pre-tokenizer splits on.
bool is_punctuation(char32_t cp);
// Oniguruma's \s, which is also Rust's char::is_whitespace: the White_Space property.
bool is_whitespace(char32_t cp);

}  // namespace shardlm
