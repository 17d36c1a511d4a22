// Faults a long-running job meets: a rank that dies while loading, during a prefill or during a
// decode step; a model file truncated on disk while its mapped weights are in use; a full disk where
// the planner writes its plot and probe. Each must end in bounded time with a clear error naming the
// cause, never a hang or a bare signal.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kSmolLm2 = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";

// Waits up to `seconds` for the job, killing it if it is still running then, so that nothing outlives
// the test.
CliResult finish(Background& job, double seconds) {
  CliResult result = job.wait(seconds);
  if (result.exit_code == -1 && result.signal == 0) {
    kill(job.pid, SIGKILL);
    job.wait(5.0);
  }
  return result;
}

bool still_running(const CliResult& result) { return result.exit_code == -1 && result.signal == 0; }

// Rank 1 of a two-stage pipeline kills itself (SIGKILL) on reaching the phase, through the runtime's
// fault point (runtime/core/fault_injection.h): deterministic, where a kill from outside would race
// the phase.
class RankDies : public ::testing::TestWithParam<const char*> {};

TEST_P(RankDies, TheJobEndsNamingTheRank) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  prepare_mpi_environment();
  ASSERT_EQ(setenv("SHARDLM_TEST_KILL_AT", (std::string(GetParam()) + ":1").c_str(), 1), 0);
  Background job = start_program({SHARDLM_MPIEXEC, "-np", "2", "--oversubscribe", SHARDLM_BINARY, "generate",
                                  "--model", kSmolLm2, "--pp", "2", "--prompt", "Once upon a time, in a land far away,",
                                  "--max-new-tokens", "64", "--temperature", "0"});
  unsetenv("SHARDLM_TEST_KILL_AT");
  const CliResult result = finish(job, 60.0);
  ASSERT_FALSE(still_running(result)) << "the job still ran 60 s after rank 1 died at " << GetParam();
  EXPECT_NE(result.exit_code, 0) << result.out;
  EXPECT_NE(result.err.find("rank 1"), std::string::npos) << result.err;
}

INSTANTIATE_TEST_SUITE_P(Phases, RankDies, ::testing::Values("load", "prefill", "decode"));

// The weights are used in place from the mapped file: truncating it on disk under a running decode
// makes the next read of a page past the new end fault. The run ends with one line naming the file.
TEST(FileFault, AModelTruncatedWhileInUseEndsInOneLineNamingIt) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  const std::string copy = temp_dir() + "/truncated-while-in-use.gguf";
  std::filesystem::copy_file(kSmolLm2, copy, std::filesystem::copy_options::overwrite_existing);
  Background job = start_program({SHARDLM_BINARY, "generate", "--model", copy, "--prompt", "Once upon a time",
                                  "--max-new-tokens", "100000", "--ignore-eos", "--threads", "1"});
  for (int i = 0; i < 600 && read_file(job.out_path).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(read_file(job.out_path).empty()) << "no text within 30 s: " << read_file(job.err_path);
  std::filesystem::resize_file(copy, 4096);
  const CliResult result = finish(job, 30.0);
  ASSERT_FALSE(still_running(result)) << "still decoding 30 s after its model file was truncated";
  EXPECT_EQ(result.signal, 0) << "died of a signal: " << result.err;
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find(copy), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("changed on disk"), std::string::npos) << result.err;
}

// /dev/full fails every write with ENOSPC, as a full disk does.
TEST(FileFault, AFullDiskWhereThePlannerWritesIsAClearError) {
  const CliResult plot = run_cli({"plan", "--model", "llama-2-7b", "--hardware", "h100-80g", "--plot", "/dev/full"});
  EXPECT_EQ(plot.exit_code, 1) << plot.out << plot.err;
  EXPECT_NE(plot.err.find("/dev/full"), std::string::npos) << plot.err;
  EXPECT_NE(plot.err.find("No space left on device"), std::string::npos) << plot.err;
}

}  // namespace
}  // namespace shardlm::testing
