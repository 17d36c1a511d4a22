// UTF-8 decoding, the generated Unicode class tables, and GPT-2's byte alphabet.
#include <gtest/gtest.h>

#include <string>

#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

TEST(UnicodeUtf8, DecodesEachLengthAndEncodesBack) {
  for (const char32_t cp : {U'A', U'\u00e9', U'\u20ac', U'\U0001F600', U'\u0000', U'\U0010FFFF'}) {
    std::string text;
    utf8_append(text, cp);
    const Utf8Char c = utf8_decode(text, 0);
    EXPECT_EQ(c.code_point, cp);
    EXPECT_EQ(c.length, text.size());
  }
}

TEST(UnicodeUtf8, InvalidSequencesDecodeOneByteAtATime) {
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, a value past U+10FFFF.
  for (const std::string bad : {"\x80", "\xE2\x82", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF"}) {
    const Utf8Char c = utf8_decode(bad, 0);
    EXPECT_EQ(c.length, 1u) << bad;
    EXPECT_EQ(c.code_point, kInvalidBase + static_cast<uint8_t>(bad[0]));
    std::string back;
    utf8_append(back, c.code_point);
    EXPECT_EQ(back, bad.substr(0, 1));  // the byte survives a decode/encode round trip
  }
  EXPECT_EQ(utf8_length("a\xE2\x82"), 3u);
  EXPECT_EQ(utf8_length("\xE2\x82\xAC!"), 2u);
}

TEST(UnicodeTables, ClassesMatchTheUnicodeDatabase) {
  EXPECT_STREQ(unicode_version(), "16.0.0");
  EXPECT_EQ(unicode_class(U'A'), UnicodeClass::Lu);
  EXPECT_EQ(unicode_class(U'z'), UnicodeClass::Ll);
  EXPECT_EQ(unicode_class(U'\u01C5'), UnicodeClass::Lt);  // ǅ
  EXPECT_EQ(unicode_class(U'\u02B0'), UnicodeClass::Lm);  // ʰ
  EXPECT_EQ(unicode_class(U'\u4E2D'), UnicodeClass::Lo);  // 中
  EXPECT_EQ(unicode_class(U'\u0301'), UnicodeClass::Mark);
  EXPECT_EQ(unicode_class(U'7'), UnicodeClass::Number);
  EXPECT_EQ(unicode_class(U'\u00BD'), UnicodeClass::Number);  // ½ is No
  EXPECT_EQ(unicode_class(U'\u216B'), UnicodeClass::Number);  // Ⅻ is Nl
  EXPECT_EQ(unicode_class(U'!'), UnicodeClass::Punctuation);
  EXPECT_EQ(unicode_class(U'$'), UnicodeClass::Other);  // Sc
  EXPECT_EQ(unicode_class(U'\U0001F600'), UnicodeClass::Other);
  EXPECT_EQ(unicode_class(U'\U0010FFFF'), UnicodeClass::Other);
  EXPECT_EQ(unicode_class(kInvalidBase + 0x80), UnicodeClass::Other);
  // Added in Unicode 16.0, which Oniguruma (tokenizers' regex engine) knows: U+1C89 CYRILLIC CAPITAL TJE.
  EXPECT_EQ(unicode_class(U'\u1C89'), UnicodeClass::Lu);
}

TEST(UnicodeTables, WhitespaceIsTheWhiteSpaceProperty) {
  for (const char32_t cp : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00A0', U'\u1680', U'\u2000',
                            U'\u200A', U'\u2028', U'\u2029', U'\u202F', U'\u205F', U'\u3000'})
    EXPECT_TRUE(is_whitespace(cp)) << static_cast<uint32_t>(cp);
  // Python's str.isspace() takes U+001C..U+001F; Oniguruma's \s does not. Nor ZERO WIDTH SPACE.
  for (const char32_t cp : {U'\u001C', U'\u001F', U'\u200B', U'a', U'\u180E'})
    EXPECT_FALSE(is_whitespace(cp)) << static_cast<uint32_t>(cp);
}

TEST(UnicodeTables, PunctuationIncludesAsciiSymbols) {
  for (const char32_t cp : {U'!', U'$', U'+', U'<', U'^', U'`', U'|', U'~', U'\u3002', U'\u060C', U'\u2014'})
    EXPECT_TRUE(is_punctuation(cp)) << static_cast<uint32_t>(cp);
  for (const char32_t cp : {U'a', U'1', U' ', U'\u20AC'}) EXPECT_FALSE(is_punctuation(cp)) << static_cast<uint32_t>(cp);
}

TEST(UnicodeByteLevel, AlphabetIsGpt2s) {
  EXPECT_EQ(byte_to_char(' '), U'\u0120');   // Ġ
  EXPECT_EQ(byte_to_char('\n'), U'\u010A');  // Ċ
  EXPECT_EQ(byte_to_char('\t'), U'\u0109');  // ĉ
  EXPECT_EQ(byte_to_char('A'), U'A');
  EXPECT_EQ(byte_to_char(0xAD), U'\u0143');  // soft hyphen, the last remapped byte
  EXPECT_EQ(byte_to_char(0xFF), U'\u00FF');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(char_to_byte(byte_to_char(static_cast<uint8_t>(b))), b);
  EXPECT_FALSE(char_to_byte(U' ').has_value());
  EXPECT_FALSE(char_to_byte(U'\u0144').has_value());
}

TEST(UnicodeByteLevel, StringsRoundTrip) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string spelled = bytes_to_byte_level(all);
  EXPECT_EQ(utf8_length(spelled), 256u);
  EXPECT_EQ(byte_level_to_bytes(spelled), all);
  EXPECT_EQ(bytes_to_byte_level(" caf\xC3\xA9"), "\xC4\xA0" "caf\xC3\x83\xC2\xA9");  // "Ġcafé" spelled
  EXPECT_FALSE(byte_level_to_bytes("a b").has_value());                            // a raw space is not in it
}

}  // namespace
}  // namespace shardlm
