// `shardlm inspect` against published parameter counts (../shared/MODELS.md counts SmolLM2-135M at
// 134,515,008 from its shapes; stories260K's shapes in its README give 260,032 with the classifier tied).
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

TEST(Inspect, SmolLm2ParametersAndStoredTypes) {
  const std::string model = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(model)) << model << " is missing: run ./launch/fetch-models.sh";
  const CliResult run = run_cli({"inspect", model});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("parameters: 134515008 (272 tensors"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("30 layers, hidden 576, heads 9 (kv 3), head dim 64, ffn 1536, vocab 49152"),
            std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Q4_1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("Q8_0"), std::string::npos) << run.out;
}

// inspect's table of --weights choices counts bytes by formula (the planner's); generate reports the
// bytes of the tensors it actually built. Each row must be what generate then holds.
TEST(Inspect, WeightChoicesAreWhatGenerateHolds) {
  const std::string model = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(model)) << model << " is missing: run ./launch/fetch-models.sh";
  const CliResult inspect = run_cli({"inspect", model, "--weights", "int4"});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_NE(inspect.out.find("   <- chosen"), std::string::npos) << inspect.out;
  for (const char* weights : {"bf16", "int8", "int4"}) {
    const CliResult run = run_cli({"generate", "--model", model, "--prompt", "Hi", "--max-new-tokens", "1",
                                   "--weights", weights});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    const size_t at = run.err.find("weights per rank: ");
    ASSERT_NE(at, std::string::npos) << run.err;
    const std::string held = run.err.substr(at + 18, run.err.find(" MiB", at) + 4 - at - 18);  // "92.1 MiB"
    const std::string row = std::string("  ") + weights + std::string(6 - std::string(weights).size(), ' ');
    const size_t line = inspect.out.find(row);
    ASSERT_NE(line, std::string::npos) << row << " in " << inspect.out;
    EXPECT_NE(inspect.out.substr(line, inspect.out.find('\n', line) - line).find(held), std::string::npos)
        << weights << ": generate holds " << held << "\n" << inspect.out;
  }
}

TEST(Inspect, Stories260K) {
  // dim 64, FFN 172, 5 layers, 4 of 8 heads for K/V, vocab 512: 512*64 + 5*(64*64*2 + 32*64*2 + 3*172*64 + 2*64) + 64.
  const CliResult run = run_cli({"inspect", std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin", "--tensors"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("parameters: 260032 (47 tensors"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("layers.4.w3"), std::string::npos) << run.out;
}

TEST(Inspect, AHuggingFaceDirectory) {
  const CliResult run = run_cli({"inspect", std::string(SHARDLM_TEST_DATA) + "/../fixtures/falcon_40b_style"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("fused, per KV group"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("parallel attention + MLP"), std::string::npos) << run.out;
}

TEST(Inspect, MissingPathIsAClearError) {
  const CliResult run = run_cli({"inspect"});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("inspect needs a checkpoint path"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace shardlm::testing
