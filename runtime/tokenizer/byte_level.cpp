#include "runtime/tokenizer/byte_level.h"

#include <array>

#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

bool stands_for_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Alphabet {
  std::array<char32_t, 256> to_char{};
  std::array<int16_t, 324> to_byte{};  // indexed by character; the alphabet ends below U+0144
  std::array<std::string, 256> spelled;
  Alphabet() {
    to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = stands_for_itself(b) ? static_cast<char32_t>(b) : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
      utf8_append(spelled[b], to_char[b]);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

char32_t byte_to_char(uint8_t b) { return alphabet().to_char[b]; }

std::optional<uint8_t> char_to_byte(char32_t c) {
  if (c >= alphabet().to_byte.size() || alphabet().to_byte[c] < 0) return std::nullopt;
  return static_cast<uint8_t>(alphabet().to_byte[c]);
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char b : bytes) out += alphabet().spelled[static_cast<uint8_t>(b)];
  return out;
}

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = utf8_decode(text, at);
    const auto b = char_to_byte(c.code_point);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    at += c.length;
  }
  return out;
}

}  // namespace shardlm
