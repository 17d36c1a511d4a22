// `shardlm generate` and `shardlm chat` on SmolLM2-135M-Instruct give transformers' greedy text
// (recorded in tests/fixtures/smollm2/expected.json by tests/reference/make_fixtures.py), with the
// weights dequantized as transformers dequantizes them (--weights f32): as stored, the inputs of its
// Q4_1 products are quantized too, and the chat reply's first token is a near tie (0.08 apart).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";

nlohmann::json expected() { return nlohmann::json::parse(read_file(std::string(SHARDLM_TEST_DATA) + "/../fixtures/smollm2/expected.json")); }

// transformers decodes the stop token too; ShardLM stops before printing it.
std::string without_end_of_turn(std::string text) {
  const std::string end = "<|im_end|>";
  if (text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0)
    text.resize(text.size() - end.size());
  return text;
}

TEST(SmolLm2Cli, GenerateGivesTransformersGreedyText) {
  ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel << " is missing: run ./launch/fetch-models.sh";
  const auto fixture = expected();
  for (int i : {0, 1}) {
    const auto& case_ = fixture["greedy"][i];
    const std::string prompt = case_["text"];
    const int tokens = static_cast<int>(case_["generated_ids"].size());
    const CliResult run = run_cli({"generate", "--model", kModel, "--prompt", prompt, "--temperature", "0",
                                   "--max-new-tokens", std::to_string(tokens), "--weights", "f32"});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.out, prompt + without_end_of_turn(case_["generated_text"]) + "\n");
  }
}

TEST(SmolLm2Cli, ChatGivesTransformersGreedyAnswer) {
  ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel << " is missing: run ./launch/fetch-models.sh";
  const auto fixture = expected();
  const auto& chat = fixture["chat_prompt"];
  const std::string question = chat["messages"][0]["content"];
  const auto& case_ = fixture["greedy"][2];
  const CliResult run = run_cli(
      {"chat", "--model", kModel, "--temperature", "0", "--max-new-tokens", "32", "--weights", "f32"}, question + "\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, without_end_of_turn(case_["generated_text"]) + "\n");
}

TEST(SmolLm2Cli, ChatReusesTheFirstRoundsCacheInTheSecond) {
  ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel << " is missing: run ./launch/fetch-models.sh";
  const CliResult run = run_cli({"chat", "--model", kModel, "--temperature", "0", "--max-new-tokens", "32"},
                                "What is the capital of France?\nAnd of Germany?\n");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  // Round one computes its whole prompt; round two finds round one's full blocks in the cache.
  const size_t second = run.err.find("[turn:", run.err.find("[turn:") + 1);
  ASSERT_NE(second, std::string::npos) << run.err;
  const long reused = std::stol(run.err.substr(run.err.find("tokens, ", second) + 8));
  EXPECT_GT(reused, 0) << run.err;
  // Round one's prompt is the chat template applied by transformers (its ids are in the fixture).
  const size_t first_round = expected()["chat_prompt"]["ids"].size();
  EXPECT_NE(run.err.find("[turn: " + std::to_string(first_round) + " prompt tokens, 0 reused"), std::string::npos)
      << run.err;
}

TEST(SmolLm2Cli, ChatRefusesAModelWithoutATemplate) {
  const CliResult run =
      run_cli({"chat", "--model", std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin"}, "hi\n");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("no chat template"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace shardlm::testing
