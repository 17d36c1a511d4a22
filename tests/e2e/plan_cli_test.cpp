// `shardlm plan` as a user runs it: the table, --json, --plot, the ranking of layouts and the fewest
// devices for a target, and bad inputs answered with one `error:` line and exit code 1.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

void expect_clean_failure(const CliResult& run, const std::string& message_part) {
  EXPECT_EQ(run.signal, 0) << run.err;
  EXPECT_EQ(run.exit_code, 1);
  ASSERT_FALSE(run.err.empty());
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "expected exactly one line:\n" << run.err;
  EXPECT_NE(run.err.find(message_part), std::string::npos) << "'" << message_part << "' not in: " << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

std::vector<std::string> llama70b(std::vector<std::string> extra) {
  std::vector<std::string> args = {"plan", "--model", "llama-2-70b", "--hardware", "a100-80g"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// stories260K's context is 512 tokens, less than the default 512 + 128: defaults the user never typed
// shrink to fit (409 + 103: 512 x 512 / 640 = 409.6, the 4 : 1 split kept), a length typed stays
// and the other fills the context, and typed lengths that cannot fit are errors naming them.
TEST(PlanCli, DefaultLengthsShrinkToASmallContextTypedOnesDoNot) {
  const std::vector<std::string> stories = {"plan", "--model", "stories260k", "--hardware", "a100-80g", "--gpus", "8"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = stories;
    args.insert(args.end(), extra.begin(), extra.end());
    return run_cli(args);
  };
  const CliResult defaults = with({"--json"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  EXPECT_NE(defaults.err.find("note: 512 prompt + 128 output tokens exceed"), std::string::npos) << defaults.err;
  EXPECT_NE(defaults.err.find("context of 512; planning 409 + 103"), std::string::npos) << defaults.err;
  const auto json = nlohmann::json::parse(defaults.out);
  EXPECT_TRUE(json["plan"]["fits"].get<bool>());

  const CliResult typed_prompt = with({"--prompt-tokens", "500"});
  ASSERT_EQ(typed_prompt.exit_code, 0) << typed_prompt.err;
  EXPECT_NE(typed_prompt.err.find("planning 500 + 12"), std::string::npos) << typed_prompt.err;
  const CliResult typed_output = with({"--output-tokens", "200"});
  ASSERT_EQ(typed_output.exit_code, 0) << typed_output.err;
  EXPECT_NE(typed_output.err.find("planning 312 + 200"), std::string::npos) << typed_output.err;
  const CliResult fits = with({"--prompt-tokens", "100", "--output-tokens", "50"});
  ASSERT_EQ(fits.exit_code, 0) << fits.err;
  EXPECT_EQ(fits.err.find("note:"), std::string::npos) << fits.err;

  expect_clean_failure(with({"--prompt-tokens", "600"}), "--prompt-tokens 600");
  expect_clean_failure(with({"--prompt-tokens", "500", "--output-tokens", "100"}), "--prompt-tokens 500 + --output-tokens 100");
}

TEST(PlanCli, Llama70BOnOneA100DoesNotFitAndOnEightDoes) {
  const CliResult one = run_cli(llama70b({"--tp", "1"}));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("does not fit"), std::string::npos) << one.out;
  const CliResult eight = run_cli(llama70b({"--gpus", "8", "--weights", "bf16", "--json"}));
  ASSERT_EQ(eight.exit_code, 0) << eight.err;
  const auto json = nlohmann::json::parse(eight.out);
  EXPECT_TRUE(json["plan"]["fits"].get<bool>());
  // The best bf16 layout of 8 GPUs for throughput is all tensor-parallel (pipeline stages only add a bubble).
  EXPECT_EQ(json["plan"]["tp"], 8);
  EXPECT_EQ(json["plan"]["ranks"].size(), 8u);
  // 68.98B parameters in bf16 over 8 ranks plus the replicated embedding: 17.2 to 17.8 GB a rank.
  const double weights = json["plan"]["ranks"][0]["weight_bytes"].get<double>();
  EXPECT_GT(weights, 137.95e9 / 8);
  EXPECT_LT(weights, 137.95e9 / 8 + 0.6e9);
  EXPECT_FALSE(json["layouts"].empty());
}

TEST(PlanCli, RanksEveryPrecisionAndFindsTheFewestGpus) {
  const CliResult run = run_cli(llama70b({"--gpus", "8", "--target-throughput", "100"}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* part : {"layouts of 8 x a100-80g", "bf16", "int8", "int4", "fewest devices for the target"})
    EXPECT_NE(run.out.find(part), std::string::npos) << part << "\n" << run.out;
  const CliResult fewest = run_cli(llama70b({"--gpus", "2", "--weights", "bf16", "--target-itl-ms", "1000", "--json"}));
  ASSERT_EQ(fewest.exit_code, 0) << fewest.err;
  // 138 GB of bf16 weights need at least 2 x 80 GB.
  EXPECT_EQ(nlohmann::json::parse(fewest.out)["fewest"]["devices"], 2);
}

TEST(PlanCli, PlotIsAnSvgOfEveryRank) {
  const std::string file = temp_dir() + "/plan.svg";
  const CliResult run = run_cli(llama70b({"--tp", "4", "--pp", "2", "--plot", file}));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string svg = read_file(file);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("rank 7: weights"), std::string::npos);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
}

TEST(PlanCli, ReadsCheckpointsToo) {
  const CliResult run = run_cli({"plan", "--model", std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin",
                                 "--hardware", "cpu", "--prompt-tokens", "5", "--output-tokens", "20"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("stories260K.bin"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("weights f32"), std::string::npos) << run.out;
}

TEST(PlanCli, BadInputsGiveOneErrorLine) {
  expect_clean_failure(run_cli({"plan", "--model", "llama-9-70b", "--hardware", "a100-80g"}), "neither a preset");
  expect_clean_failure(run_cli({"plan", "--model", "llama-2-70b", "--hardware", "tpu"}), "--hardware 'tpu'");
  expect_clean_failure(run_cli({"plan", "--hardware", "a100-80g"}), "--model");
  expect_clean_failure(run_cli(llama70b({"--concurrency", "-4"})), "--concurrency");
  expect_clean_failure(run_cli(llama70b({"--prompt-tokens", "0"})), "--prompt-tokens");
  expect_clean_failure(run_cli(llama70b({"--weights", "int3"})), "--weights");
  expect_clean_failure(run_cli(llama70b({"--kv-dtype", "int4"})), "--kv-dtype");
  expect_clean_failure(run_cli(llama70b({"--tp", "128"})), "cannot be split over --tp 128");
  expect_clean_failure(run_cli(llama70b({"--pp", "81"})), "pipeline stages");
  expect_clean_failure(run_cli(llama70b({"--gpus", "8", "--tp", "2", "--pp", "2"})), "--gpus says 8");
  expect_clean_failure(run_cli(llama70b({"--prompt-tokens", "4000", "--output-tokens", "200"})), "--context");
  expect_clean_failure(run_cli(llama70b({"--kv-cache-memory", "lots"})), "--kv-cache-memory");
  expect_clean_failure(run_cli(llama70b({"--rank-by", "cost"})), "--rank-by");
  expect_clean_failure(run_cli(llama70b({"--gpu", "8"})), "--gpu");
  const std::string bad = temp_dir() + "/bad.yaml";
  write_file(bad, "kind: gpu\nmemory: 80GiB\nbandwith: 3\n");
  expect_clean_failure(run_cli({"plan", "--model", "llama-2-70b", "--hardware", bad}), "unknown key 'bandwith'");
}

}  // namespace
}  // namespace shardlm::testing
