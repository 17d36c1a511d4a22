// Utf8Streamer: complete characters out, unfinished ones held, invalid bytes as U+FFFD.
#include <gtest/gtest.h>

#include <string>

#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm {
namespace {

const std::string kReplacement = "\xEF\xBF\xBD";

TEST(Utf8Streamer, PassesCompleteCharactersStraightThrough) {
  Utf8Streamer streamer;
  EXPECT_EQ(streamer.push("abc \xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80"), "abc \xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80");
  EXPECT_FALSE(streamer.holding());
  EXPECT_EQ(streamer.finish(), "");
}

TEST(Utf8Streamer, HoldsACharacterUntilItsLastByteArrives) {
  Utf8Streamer streamer;
  EXPECT_EQ(streamer.push("x\xF0"), "x");
  EXPECT_TRUE(streamer.holding());
  EXPECT_EQ(streamer.push("\x9F"), "");
  EXPECT_EQ(streamer.push("\x98"), "");
  EXPECT_EQ(streamer.push("\x80y\xE4\xB8"), "\xF0\x9F\x98\x80y");
  EXPECT_EQ(streamer.push("\xAD"), "\xE4\xB8\xAD");
  EXPECT_FALSE(streamer.holding());
}

TEST(Utf8Streamer, InvalidBytesBecomeReplacementCharacters) {
  Utf8Streamer streamer;
  EXPECT_EQ(streamer.push("a\x80" "b"), "a" + kReplacement + "b");      // lone continuation byte
  EXPECT_EQ(streamer.push("\xC0\xAF"), kReplacement + kReplacement);    // overlong: each byte invalid
  EXPECT_EQ(streamer.push("\xE4\xB8z"), kReplacement + "z");            // cut short by an ASCII byte: one U+FFFD
  EXPECT_EQ(streamer.push("\xED\xA0\x80"), kReplacement + kReplacement + kReplacement);  // a surrogate
  EXPECT_EQ(streamer.push("\xFF"), kReplacement);
  EXPECT_EQ(streamer.push("\xF0\x9F"), "");
  EXPECT_EQ(streamer.push("!"), kReplacement + "!");  // the held prefix can no longer complete
}

TEST(Utf8Streamer, FinishFlushesAnUnfinishedCharacter) {
  Utf8Streamer streamer;
  EXPECT_EQ(streamer.push("ok\xE2\x82"), "ok");
  EXPECT_EQ(streamer.finish(), kReplacement);
  EXPECT_FALSE(streamer.holding());
  EXPECT_EQ(streamer.push("again"), "again");
}

TEST(Utf8Streamer, ByteAtATimeGivesTheSameTextAsAllAtOnce) {
  const std::string text = "na\xC3\xAFve \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE6\x97\xA5\xE6\x9C\xAC \x80 end\xE2";
  Utf8Streamer whole;
  std::string expected = whole.push(text);
  expected += whole.finish();
  Utf8Streamer bytewise;
  std::string got;
  for (const char c : text) got += bytewise.push(std::string(1, c));
  got += bytewise.finish();
  EXPECT_EQ(got, expected);
  EXPECT_EQ(expected, "na\xC3\xAFve \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD \xE6\x97\xA5\xE6\x9C\xAC " + kReplacement + " end" + kReplacement);
}

}  // namespace
}  // namespace shardlm
