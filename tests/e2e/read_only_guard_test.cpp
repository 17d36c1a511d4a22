// launch/test.sh runs the suite read-only outside the checkout, the build folder and its own
// temporary folder. Under that guard, a write anywhere else must fail (and so fail its test) instead
// of reaching the machine; writes to the test's own folders must still work.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <unistd.h>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

TEST(ReadOnlyGuard, WritesOutsideTheTestsFoldersFail) {
  const char* guard = std::getenv("SHARDLM_READ_ONLY_GUARD");
  if (guard == nullptr || std::string(guard) != "1")
    GTEST_SKIP() << "not run under launch/test.sh's read-only guard (launch/run-read-only.sh)";
  // access(W_OK) asks without writing: a read-only file system answers EROFS even to root, so the
  // check needs no file that would then have to be removed.
  for (const char* outside : {"/", "/etc", "/var", "/usr", "/root"}) {
    if (access(outside, F_OK) != 0) continue;
    EXPECT_EQ(access(outside, W_OK), -1) << outside << " is writable: the guard does not hold";
    EXPECT_EQ(errno, EROFS) << outside;
  }
  const std::string inside = temp_dir() + "/written";
  write_file(inside, "fine");
  EXPECT_EQ(read_file(inside), "fine");
}

}  // namespace
}  // namespace shardlm::testing
