#include "runtime/tokenizer/decoder.h"

#include "runtime/tokenizer/byte_level.h"
#include "runtime/tokenizer/normalizer.h"
#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

class ByteLevelDecoder final : public TokenDecoder {
 public:
  // A token with a character outside the alphabet (an added token like "<|im end|>") is kept as is.
  std::string apply(std::string token, bool) const override {
    auto bytes = byte_level_to_bytes(token);
    return bytes ? std::move(*bytes) : token;
  }
};

class ReplaceDecoder final : public TokenDecoder {
 public:
  ReplaceDecoder(std::string pattern, std::string content) : pattern_(std::move(pattern)), content_(std::move(content)) {}
  std::string apply(std::string token, bool) const override { return replace_all(token, pattern_, content_); }

 private:
  std::string pattern_, content_;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class ByteFallbackDecoder final : public TokenDecoder {
 public:
  std::string apply(std::string token, bool) const override {
    if (token.size() == 6 && token.starts_with("<0x") && token.back() == '>') {
      const int high = hex_digit(token[3]), low = hex_digit(token[4]);
      if (high >= 0 && low >= 0) return std::string(1, static_cast<char>(high * 16 + low));
    }
    return token;
  }
};

class StripDecoder final : public TokenDecoder {
 public:
  StripDecoder(char32_t content, size_t start) : content_(content), start_(start) {}
  std::string apply(std::string token, bool first) const override {
    if (!first) return token;
    size_t cut = 0;
    for (size_t count = 0; count < start_ && cut < token.size(); ++count) {
      const Utf8Char c = utf8_decode(token, cut);
      if (c.code_point != content_) break;
      cut += c.length;
    }
    return token.substr(cut);
  }

 private:
  char32_t content_;
  size_t start_;
};

class MetaspaceDecoder final : public TokenDecoder {
 public:
  MetaspaceDecoder(std::string replacement, bool add_prefix) : replacement_(std::move(replacement)), add_prefix_(add_prefix) {}
  std::string apply(std::string token, bool first) const override {
    return replace_all(token, replacement_, first && add_prefix_ ? "" : " ");
  }

 private:
  std::string replacement_;
  bool add_prefix_;
};

class SequenceDecoder final : public TokenDecoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<TokenDecoder>> steps) : steps_(std::move(steps)) {}
  std::string apply(std::string token, bool first) const override {
    for (const auto& step : steps_) token = step->apply(std::move(token), first);
    return token;
  }

 private:
  std::vector<std::unique_ptr<TokenDecoder>> steps_;
};

}  // namespace

std::unique_ptr<TokenDecoder> make_byte_level_decoder() { return std::make_unique<ByteLevelDecoder>(); }
std::unique_ptr<TokenDecoder> make_replace_decoder(std::string pattern, std::string content) {
  return std::make_unique<ReplaceDecoder>(std::move(pattern), std::move(content));
}
std::unique_ptr<TokenDecoder> make_byte_fallback_decoder() { return std::make_unique<ByteFallbackDecoder>(); }
std::unique_ptr<TokenDecoder> make_strip_decoder(char32_t content, size_t start) {
  return std::make_unique<StripDecoder>(content, start);
}
std::unique_ptr<TokenDecoder> make_metaspace_decoder(std::string replacement, bool add_prefix) {
  return std::make_unique<MetaspaceDecoder>(std::move(replacement), add_prefix);
}
std::unique_ptr<TokenDecoder> make_sequence_decoder(std::vector<std::unique_ptr<TokenDecoder>> steps) {
  return std::make_unique<SequenceDecoder>(std::move(steps));
}

}  // namespace shardlm
