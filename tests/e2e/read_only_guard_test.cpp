// launch/test.sh runs the suite read-only outside the checkout, the build folder and its own
// temporary folder. Under that guard, a write anywhere else must fail (and so fail its test) instead
// of reaching the machine; writes to the test's own folders must still work.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <unistd.h>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

TEST(ReadOnlyGuard, WritesOutsideTheTestsFoldersFail) {
  const char* guard = std::getenv("SHARDLM_READ_ONLY_GUARD");
  if (guard == nullptr || std::string(guard) != "1")
    GTEST_SKIP() << "not run under launch/test.sh's read-only guard (launch/run-read-only.sh)";
  for (const std::string outside : {"/shardlm-guard-probe", "/etc/shardlm-guard-probe", "/var/shardlm-guard-probe"}) {
    const int fd = open(outside.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    EXPECT_EQ(fd, -1) << outside << " was created: the guard does not hold";
    if (fd >= 0) {
      close(fd);
      unlink(outside.c_str());  // made by this test a moment ago, with O_EXCL
    } else {
      EXPECT_EQ(errno, EROFS) << outside;
    }
  }
  const std::string inside = temp_dir() + "/written";
  write_file(inside, "fine");
  EXPECT_EQ(read_file(inside), "fine");
}

}  // namespace
}  // namespace shardlm::testing
