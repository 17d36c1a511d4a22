// AMX is used only after a probe proves it in a child process. The probe's mechanism is checked with
// bodies whose outcome is known on every CPU (one that faults, one that is wrong, one that is right),
// and the status it gives this machine is checked against what the CPU lists.
#include <gtest/gtest.h>

#include <cpuid.h>

#include <csignal>

#include "kernels/cpu/amx.h"

namespace shardlm::cpu {
namespace {

TEST(AmxProbe, AFaultInTheChildIsAFailureNamingTheSignalNotACrash) {
  std::string failure;
  EXPECT_FALSE(passes_in_child([] { return std::raise(SIGSEGV) == 0; }, failure));
  EXPECT_NE(failure.find("signal 11"), std::string::npos) << failure;
  EXPECT_FALSE(passes_in_child([] {
    __builtin_trap();  // an illegal instruction, as a refused tile instruction may be
    return true;
  }, failure));
  EXPECT_NE(failure.find("killed by signal"), std::string::npos) << failure;
}

TEST(AmxProbe, AWrongResultIsAFailureAndARightOneAPass) {
  std::string failure;
  EXPECT_FALSE(passes_in_child([] { return false; }, failure));
  EXPECT_EQ(failure, "returned a wrong result");
  EXPECT_TRUE(passes_in_child([] { return true; }, failure));
}

// Where the CPU does not list AMX the status says so; where it does, usable or not, the process is
// still alive and the reason says which step decided (the Xeon VMs list AMX and fault on it).
TEST(AmxProbe, TheStatusFollowsWhatTheCpuListsAndNeverEndsTheProcess) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool listed = __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && ((d >> 24) & 1u) && ((d >> 25) & 1u);
  const AmxStatus& status = amx_status();
  std::printf("AMX on this machine: %s (%s)\n", status.usable ? "usable" : "not used", status.reason.c_str());
  EXPECT_FALSE(status.reason.empty());
  if (!listed) {
    EXPECT_FALSE(status.usable);
    EXPECT_NE(status.reason.find("does not list"), std::string::npos) << status.reason;
  } else if (!status.usable) {
    EXPECT_TRUE(status.reason.find("refused") != std::string::npos || status.reason.find("tile product") != std::string::npos)
        << status.reason;
  }
  EXPECT_EQ(&amx_status(), &status);  // probed once
}

}  // namespace
}  // namespace shardlm::cpu
