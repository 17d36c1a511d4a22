// `shardlm generate` with several prompts runs them as one batched workload and prints, in order,
// exactly what each prompt gives alone.
#include <gtest/gtest.h>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::vector<std::string> kPrompts = {"Once upon a time", "Lily had a big", "The dog ran", "Tom saw a bird"};

TEST(BatchCli, SeveralPromptsGiveWhatEachGivesAlone) {
  for (const std::string temperature : {"0", "0.8"}) {
    std::vector<std::string> args = {"generate", "--model", kModel, "--max-new-tokens", "30", "--temperature",
                                     temperature, "--seed", "77", "--max-batch", "3"};
    std::string expected;
    for (size_t i = 0; i < kPrompts.size(); ++i) {
      args.insert(args.end(), {"--prompt", kPrompts[i]});
      // Prompt i of a batch samples with seed + i.
      const CliResult alone = run_cli({"generate", "--model", kModel, "--prompt", kPrompts[i], "--max-new-tokens", "30",
                                       "--temperature", temperature, "--seed", std::to_string(77 + i)});
      ASSERT_EQ(alone.exit_code, 0) << alone.err;
      expected += alone.out;
    }
    const CliResult together = run_cli(args);
    ASSERT_EQ(together.exit_code, 0) << together.err;
    EXPECT_EQ(together.out, expected) << "temperature " << temperature;
    EXPECT_NE(together.err.find("largest batch: 3"), std::string::npos) << together.err;
  }
}

TEST(BatchCli, PromptsFileAndItsErrors) {
  const std::string file = temp_dir() + "/prompts.txt";
  write_file(file, "Once upon a time\n\nThe dog ran\n");
  const CliResult run = run_cli({"generate", "--model", kModel, "--prompts-file", file, "--max-new-tokens", "10",
                                 "--temperature", "0"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.err.find("prompts: 2"), std::string::npos) << run.err;
  const CliResult missing = run_cli({"generate", "--model", kModel, "--prompts-file", temp_dir() + "/none.txt"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read --prompts-file"), std::string::npos) << missing.err;
}

// The reference is llama2.c's known continuation of "Once upon a time" (the model's README), cut by
// hand where each stop string first appears.
TEST(StopStrings, EndTheTextBeforeTheStopString) {
  const CliResult one = run_cli({"generate", "--model", kModel, "--prompt", "Once upon a time", "--max-new-tokens",
                                 "60", "--temperature", "0", "--stop", "Lily", "--stop", "never appears"});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, "Once upon a time, there was a little girl named \n");
  const CliResult several = run_cli({"generate", "--model", kModel, "--prompt", "Once upon a time", "--prompt",
                                     "Once upon a time", "--max-new-tokens", "60", "--temperature", "0", "--stop",
                                     ", red"});
  ASSERT_EQ(several.exit_code, 0) << several.err;
  const std::string cut = "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                          "park. One day, she saw a big\n";
  EXPECT_EQ(several.out, cut + cut);
  EXPECT_EQ(run_cli({"generate", "--model", kModel, "--prompt", "x", "--stop", ""}).exit_code, 1);
}

TEST(SpeculateCli, SameTextAsPlainGreedy) {
  const std::vector<std::string> args = {"generate", "--model", kModel, "--prompt", "Once upon a time",
                                         "--max-new-tokens", "150", "--temperature", "0"};
  const CliResult plain = run_cli(args);
  auto speculative_args = args;
  speculative_args.insert(speculative_args.end(), {"--speculate", "4"});
  const CliResult speculative = run_cli(speculative_args);
  ASSERT_EQ(speculative.exit_code, 0) << speculative.err;
  EXPECT_EQ(speculative.out, plain.out);
  EXPECT_NE(speculative.err.find("drafted tokens kept"), std::string::npos) << speculative.err;
  // Sampling speculates too (tests/e2e/speculative_cli_test.cpp); several prompts do not.
  const CliResult several =
      run_cli({"generate", "--model", kModel, "--prompt", "x", "--prompt", "y", "--speculate", "4"});
  EXPECT_EQ(several.exit_code, 1);
  EXPECT_NE(several.err.find("one prompt"), std::string::npos) << several.err;
}

}  // namespace
}  // namespace shardlm::testing
