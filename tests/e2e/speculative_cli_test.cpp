// `shardlm generate --speculate K` / `--draft-model PATH`: greedy output equal to plain greedy
// decoding's, seeded sampling that repeats, and one-line refusals of what speculation cannot do.
#include <gtest/gtest.h>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::string kStory = "Lily and Tom went to the park. Lily and Tom went to the park. Lily and Tom";

CliResult generate(const std::string& prompt, std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", "--model", kModel, "--prompt", prompt, "--max-new-tokens", "50"};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

TEST(SpeculativeCli, DraftModelGivesPlainGreedyOutput) {
  for (const std::string& prompt : {std::string("Once upon a time"), kStory}) {
    const CliResult plain = generate(prompt, {"--temperature", "0"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    for (const std::string k : {"1", "5"}) {
      const CliResult drafted = generate(prompt, {"--temperature", "0", "--draft-model", kModel, "--speculate", k});
      ASSERT_EQ(drafted.exit_code, 0) << drafted.err;
      EXPECT_EQ(drafted.out, plain.out) << "k " << k;
      // The model drafting for itself is always right.
      EXPECT_NE(drafted.err.find("speculation: "), std::string::npos) << drafted.err;
    }
    const CliResult lookup = generate(prompt, {"--temperature", "0", "--speculate", "4"});
    ASSERT_EQ(lookup.exit_code, 0) << lookup.err;
    EXPECT_EQ(lookup.out, plain.out);
  }
}

TEST(SpeculativeCli, SeededSamplingRepeats) {
  for (const std::vector<std::string>& drafts :
       {std::vector<std::string>{"--speculate", "3"}, std::vector<std::string>{"--draft-model", kModel}}) {
    std::vector<std::string> flags = {"--temperature", "0.9", "--top-p", "0.95", "--seed", "5"};
    flags.insert(flags.end(), drafts.begin(), drafts.end());
    const CliResult first = generate(kStory, flags), second = generate(kStory, flags);
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_EQ(second.out, first.out);
    EXPECT_GT(first.out.size(), kStory.size());
  }
}

TEST(SpeculativeCli, RefusesWhatItCannotDo) {
  auto expect_refused = [](const CliResult& r, const std::string& message) {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
  };
  // The llama fixture has 512 tokens too, but other ones.
  expect_refused(generate("Once", {"--draft-model", std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama"}),
                 "different tokenizer");
  expect_refused(generate("Once", {"--draft-model", temp_dir() + "/missing.bin"}), "missing.bin");
  expect_refused(generate("Once", {"--draft-model", ""}), "--draft-model is empty");
  expect_refused(generate("Once", {"--draft-model", kModel, "--speculate", "0"}), "--speculate");
  expect_refused(generate("Once", {"--speculate", "2", "--prompt", "Twice"}), "one prompt");
}

}  // namespace
}  // namespace shardlm::testing
