// --kv-dtype end to end: `generate --kv-dtype bf16` runs and says so, a KV budget buys twice the blocks
// in bf16, other values are refused naming the flag, and under mpirun a bf16 cache gives at tp 2 the
// tokens it gives at tp 1.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";

std::vector<std::string> generate_args(std::vector<std::string> extra, const std::string& new_tokens = "30") {
  std::vector<std::string> args = {"generate", "--model", kModel, "--prompt", "Once upon a time",
                                   "--max-new-tokens", new_tokens, "--temperature", "0", "--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

double number_after(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return -1;
  return std::stod(match[1]);
}

TEST(KvDtypeCli, GenerateWithBf16CacheRunsAndReportsIt) {
  // 400 new tokens: the pool (sized for prompt + new tokens) is then half a MiB in f32, 26 blocks of
  // 16 tokens at 20,480 bytes (see below), large enough for the printed 0.01 MiB to compare.
  const CliResult f32 = run_cli(generate_args({}, "400"));
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  const CliResult bf16 = run_cli(generate_args({"--kv-dtype", "bf16"}, "400"));
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  EXPECT_EQ(bf16.out.rfind("Once upon a time", 0), 0u) << bf16.out;
  EXPECT_GT(bf16.out.size(), std::string("Once upon a time\n").size()) << "nothing generated: " << bf16.out;
  const double f32_mib = number_after(f32.err, "KV cache: f32, ([0-9.]+) MiB");
  const double bf16_mib = number_after(bf16.err, "KV cache: bf16, ([0-9.]+) MiB");
  ASSERT_GT(f32_mib, 0) << f32.err;
  ASSERT_GT(bf16_mib, 0) << bf16.err;
  // Without --kv-cache-memory both pools get the same blocks, so bf16 takes half the memory (to the
  // printed 0.01 MiB).
  EXPECT_NEAR(f32_mib, 26 * 20480 / 1048576.0, 0.006) << f32.err;
  EXPECT_NEAR(bf16_mib, f32_mib / 2, 0.01) << f32.err << bf16.err;
}

// stories260K keeps 2 (K, V) x 5 layers x 4 KV heads x 8 dims = 320 values a token: 1,280 bytes in f32,
// 640 in bf16, so a block of 16 tokens takes 20,480 or 10,240 bytes, and 1 MiB (1,048,576 bytes) buys
// 51 whole blocks in f32 and 102 in bf16.
TEST(KvDtypeCli, SameKvMemoryHoldsTwiceTheBlocksInBf16) {
  const std::vector<std::string> several = {"--prompt", "Lily had a big", "--kv-cache-memory", "1M"};
  std::vector<std::string> f32_args = generate_args(several), bf16_args = generate_args(several);
  bf16_args.insert(bf16_args.end(), {"--kv-dtype", "bf16"});
  const CliResult f32 = run_cli(f32_args), bf16 = run_cli(bf16_args);
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  ASSERT_EQ(bf16.exit_code, 0) << bf16.err;
  EXPECT_EQ(number_after(f32.err, "KV blocks: ([0-9]+)"), 51) << f32.err;
  EXPECT_EQ(number_after(bf16.err, "KV blocks: ([0-9]+)"), 102) << bf16.err;
}

void expect_refused(const CliResult& run, const std::string& value) {
  EXPECT_EQ(run.signal, 0) << run.err;
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "expected exactly one line:\n" << run.err;
  EXPECT_NE(run.err.find("--kv-dtype"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("'" + value + "'"), std::string::npos) << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

TEST(KvDtypeCli, OtherValuesAreRefusedNamingTheFlag) {
  for (const std::string value : {"f16", "int4", "garbage", "BF16", ""}) {
    SCOPED_TRACE("--kv-dtype '" + value + "'");
    expect_refused(run_cli(generate_args({"--kv-dtype", value})), value);
  }
  // chat and serve read the same model flags, before anything is loaded or bound.
  expect_refused(run_cli({"chat", "--model", kModel, "--kv-dtype", "int4"}), "int4");
  expect_refused(run_cli({"serve", "--model", kModel, "--port", "0", "--kv-dtype", "f16"}), "f16");
  const std::string deploy = temp_dir() + "/bad_kv.yaml";
  write_file(deploy, "model: " + kModel + "\nport: 0\nkv_dtype: int4\n");
  expect_refused(run_cli({"serve", "--config", deploy}), "int4");
}

// An int8 cache scales each token's head in blocks of 32 values: stories260K's heads of 8 cannot be,
// and generate says so in one line naming the flag and the head size.
TEST(KvDtypeCli, Int8CacheNeedsHeadsOfWholeBlocks) {
  const CliResult run = run_cli(generate_args({"--kv-dtype", "int8"}));
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << run.err;
  EXPECT_NE(run.err.find("--kv-dtype int8"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("head_dim 8"), std::string::npos) << run.err;
}

// SmolLM2 (heads of 64: two blocks of 32) with an int8 cache: 34 bytes per 32 values against f32's
// 128, and greedy decoding keeps an f32 cache's first five tokens, " Paris.\n\nThe" (the cache's
// rounding, at most 1/254 of a block's largest value, moves logits far less than their margins, 0.84
// or more in transformers' f32 run; the sixth token's is 0.22, a near-tie either run may break).
TEST(KvDtypeCli, Int8CacheOnSmolLm2TakesAQuarterOfF32AndKeepsItsText) {
  const std::string model = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const std::vector<std::string> args = {"generate", "--model", model, "--prompt", "The capital of France is",
                                         "--max-new-tokens", "8", "--temperature", "0"};
  std::vector<std::string> int8_args = args;
  int8_args.insert(int8_args.end(), {"--kv-dtype", "int8"});
  const CliResult f32 = run_cli(args), int8 = run_cli(int8_args);
  ASSERT_EQ(f32.exit_code, 0) << f32.err;
  ASSERT_EQ(int8.exit_code, 0) << int8.err;
  const std::string first_five = "The capital of France is Paris.\n\nThe";
  EXPECT_EQ(f32.out.substr(0, first_five.size()), first_five);
  EXPECT_EQ(int8.out.substr(0, first_five.size()), first_five);
  const double f32_mib = number_after(f32.err, "KV cache: f32, ([0-9.]+) MiB");
  const double int8_mib = number_after(int8.err, "KV cache: q8_0, ([0-9.]+) MiB");
  ASSERT_GT(f32_mib, 0) << f32.err;
  EXPECT_NEAR(int8_mib / f32_mib, 34.0 / 128.0, 0.01) << f32.err << int8.err;
}

// Each rank stores its own KV heads in bf16; rounding is per element, so the split changes nothing
// the tokens can see.
TEST(MpiKvDtype, Bf16CacheGivesTheSameTokensAtTp2AsAtTp1) {
  const CliResult alone = run_cli(generate_args({"--kv-dtype", "bf16"}));
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  const CliResult sharded = run_mpi(2, generate_args({"--kv-dtype", "bf16", "--tp", "2"}));
  ASSERT_EQ(sharded.exit_code, 0) << sharded.err;
  EXPECT_EQ(sharded.out, alone.out);
  EXPECT_NE(sharded.err.find("ranks: 2 (tp 2, pp 1)"), std::string::npos) << sharded.err;
  EXPECT_NE(sharded.err.find("KV cache: bf16"), std::string::npos) << sharded.err;
}

}  // namespace
}  // namespace shardlm::testing
