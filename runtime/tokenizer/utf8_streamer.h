// Streaming text out of a tokenizer: token bytes may end inside a UTF-8 character (byte-level BPE
// tokens and <0xXX> byte tokens often do), so printing them as they come would show broken
// characters. Utf8Streamer passes on complete characters only and holds a character's first bytes
// until the bytes that complete it arrive; a sequence that can never become valid UTF-8 comes out as
// U+FFFD, one per maximal invalid subpart (as Python's and Rust's lossy decoders do).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

class Utf8Streamer {
 public:
  // The complete, valid UTF-8 that `bytes` finishes.
  std::string push(std::string_view bytes);
  // The end of the stream: whatever is still held (an unfinished character) as U+FFFD.
  std::string finish();
  // Whether bytes of an unfinished character are held.
  bool holding() const { return !held_.empty(); }

 private:
  std::string held_;
};

// Token ids in, printable text out: Tokenizer::decode of each token with the one before it, through a
// Utf8Streamer.
class TokenTextStream {
 public:
  // `previous` is the token before the first one pushed (BOS, or -1 when none).
  explicit TokenTextStream(const Tokenizer& tokenizer, int32_t previous = -1) : tokenizer_(tokenizer), previous_(previous) {}
  std::string push(int32_t token);
  std::string finish() { return streamer_.finish(); }

 private:
  const Tokenizer& tokenizer_;
  int32_t previous_;
  Utf8Streamer streamer_;
};

}  // namespace shardlm
