#include "runtime/tokenizer/utf8_streamer.h"

#include "runtime/tokenizer/unicode.h"

namespace shardlm {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// How many bytes from `at` form a valid prefix of a UTF-8 character (1..4), checking each byte's
// allowed range; `complete` says whether they make a whole one. 0 when text[at] cannot start one.
size_t valid_prefix(std::string_view text, size_t at, bool& complete) {
  const auto lead = static_cast<uint8_t>(text[at]);
  const size_t length = utf8_sequence_length(lead);
  complete = length == 1;
  if (length <= 1) return length;
  uint8_t low = 0x80, high = 0xBF;  // the second byte's range, which rules out overlongs and surrogates
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
  size_t i = 1;
  for (; i < length && at + i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[at + i]);
    const bool ok = i == 1 ? (b >= low && b <= high) : (b & 0xC0) == 0x80;
    if (!ok) return i;  // complete stays false: bytes [at, at + i) are an invalid subpart
  }
  complete = i == length;
  return i;
}

}  // namespace

std::string Utf8Streamer::push(std::string_view bytes) {
  held_.append(bytes);
  std::string out;
  size_t at = 0;
  while (at < held_.size()) {
    bool complete = false;
    const size_t length = valid_prefix(held_, at, complete);
    if (complete) {
      out.append(held_, at, length);
      at += length;
    } else if (length > 0 && at + length == held_.size()) {
      break;  // a valid start the next bytes may finish
    } else {
      out.append(kReplacement);
      at += length == 0 ? 1 : length;
    }
  }
  held_.erase(0, at);
  return out;
}

std::string Utf8Streamer::finish() {
  std::string out = held_.empty() ? std::string() : std::string(kReplacement);
  held_.clear();
  return out;
}

std::string TokenTextStream::push(int32_t token) {
  const std::string bytes = tokenizer_.decode(previous_, token);
  previous_ = token;
  return streamer_.push(bytes);
}

}  // namespace shardlm
