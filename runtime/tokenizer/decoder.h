// Token -> bytes, one token at a time, as tokenizer.json's decoder section says: ByteLevel (GPT-2's
// byte alphabet back to bytes), Replace, ByteFallback (<0xXX> -> the byte), Fuse, Strip, Metaspace,
// and Sequences of them. Decoding token by token is what streaming output needs; the bytes of
// successive tokens concatenate to what Hugging Face's whole-sequence decode gives (before it turns
// invalid UTF-8 into U+FFFD, which Utf8Streamer does for streams).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace shardlm {

class TokenDecoder {
 public:
  virtual ~TokenDecoder() = default;
  // The text of one token (as the vocabulary spells it) after this step. `first` is true for the
  // first token of the output, where Strip and Metaspace drop the leading space.
  virtual std::string apply(std::string token, bool first) const = 0;
};

std::unique_ptr<TokenDecoder> make_byte_level_decoder();
std::unique_ptr<TokenDecoder> make_replace_decoder(std::string pattern, std::string content);
std::unique_ptr<TokenDecoder> make_byte_fallback_decoder();
// Removes up to `start` leading copies of `content` from the first token. (A stop count, which
// would need the last token, is not applied while streaming.)
std::unique_ptr<TokenDecoder> make_strip_decoder(char32_t content, size_t start);
// `replacement` back to spaces; in the first token, when add_prefix (the prepend scheme is not
// "never"), the replacement characters are dropped instead.
std::unique_ptr<TokenDecoder> make_metaspace_decoder(std::string replacement, bool add_prefix);
std::unique_ptr<TokenDecoder> make_sequence_decoder(std::vector<std::unique_ptr<TokenDecoder>> steps);

}  // namespace shardlm
