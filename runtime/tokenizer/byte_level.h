// GPT-2's byte-level alphabet: every byte is spelled as one printable Unicode character, so a
// byte-level BPE vocabulary is text. Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for
// themselves; the other 68 bytes take U+0100 onwards in byte order (space 0x20 is 'Ġ' U+0120).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shardlm {

// The character spelling byte b.
char32_t byte_to_char(uint8_t b);
// The byte a character spells, or nothing when it is not in the alphabet.
std::optional<uint8_t> char_to_byte(char32_t c);
// Each byte of `bytes` spelled as its character, UTF-8 encoded.
std::string bytes_to_byte_level(std::string_view bytes);
// The bytes a byte-level string spells; nothing when any character is outside the alphabet.
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace shardlm
