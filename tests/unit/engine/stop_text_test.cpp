// Stop strings over streamed text: text is held back only while it could still become a stop
// string, and the earliest stop string found ends it, whichever is listed first.
#include <gtest/gtest.h>

#include "runtime/engine/stop_text.h"

namespace shardlm {
namespace {

TEST(StopText, HoldsBackOnlyWhatCouldBecomeAStop) {
  EXPECT_EQ(split_at_stop("Hello wor", {"world!"}), std::make_pair(size_t{6}, false));
  EXPECT_EQ(split_at_stop("Hello", {"world"}), std::make_pair(size_t{5}, false));
  EXPECT_EQ(split_at_stop("", {"x"}), std::make_pair(size_t{0}, false));
  EXPECT_EQ(split_at_stop("abc", {}), std::make_pair(size_t{3}, false));
  // The longest tail that starts a stop string is held, over all stop strings.
  EXPECT_EQ(split_at_stop("a<|im", {"<|im_end|>", "m!"}), std::make_pair(size_t{1}, false));
}

TEST(StopText, TheEarliestStopWins) {
  EXPECT_EQ(split_at_stop("one. two! three.", {".", "!"}), std::make_pair(size_t{3}, true));
  EXPECT_EQ(split_at_stop("one! two. three.", {".", "!"}), std::make_pair(size_t{3}, true));
  EXPECT_EQ(split_at_stop("xx\nUser:", {"User:"}), std::make_pair(size_t{3}, true));
}

}  // namespace
}  // namespace shardlm
