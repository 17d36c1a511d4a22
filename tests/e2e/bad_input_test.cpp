// Bad input gets one clear line on stderr and a non-zero exit, never a crash. Each case builds the
// bad input itself, runs the real binary and checks the message names what is wrong.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::string kTokenizer = std::string(SHARDLM_TEST_DATA) + "/stories260K/tok512.bin";

struct BadCase {
  std::string name;
  std::vector<std::string> args;
  std::string message_part;  // the error must say this
};

void expect_clean_failure(const CliResult& run, const std::string& message_part) {
  EXPECT_EQ(run.signal, 0) << "crashed with signal " << run.signal << "\n" << run.err;
  EXPECT_NE(run.exit_code, 0);
  EXPECT_NE(run.exit_code, -1);
  ASSERT_FALSE(run.err.empty());
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "expected exactly one line:\n" << run.err;
  EXPECT_NE(run.err.find(message_part), std::string::npos) << "'" << message_part << "' not in: " << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

std::vector<std::string> generate_args(const std::string& model, const std::string& tokenizer,
                                       std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", "--model", model, "--tokenizer", tokenizer};
  if (std::find(extra.begin(), extra.end(), "--prompt") == extra.end()) extra.insert(extra.end(), {"--prompt", "Once"});
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string write_variant(const std::string& name, const std::string& bytes) {
  const std::string path = temp_dir() + "/" + name;
  write_file(path, bytes);
  return path;
}

std::string with_header_field(std::string model, int field, int32_t value) {
  std::memcpy(model.data() + field * sizeof(int32_t), &value, sizeof(value));
  return model;
}

std::vector<BadCase> bad_cases() {
  const std::string model = read_file(kModel), tokenizer = read_file(kTokenizer);
  std::string long_prompt;
  for (int i = 0; i < 600; ++i) long_prompt += "Once upon a time ";
  std::string bad_length = tokenizer;  // first piece's length field: after max_token_length and its score
  const int32_t huge = 1 << 30;
  std::memcpy(bad_length.data() + 8, &huge, sizeof(huge));
  std::string negative_length = tokenizer;
  const int32_t negative = -5;
  std::memcpy(negative_length.data() + 8, &negative, sizeof(negative));

  return {
      {"missing model", generate_args(temp_dir() + "/no-such-model.bin", kTokenizer, {}), "does not exist"},
      {"missing tokenizer", generate_args(kModel, temp_dir() + "/no-such-tok.bin", {}), "does not exist"},
      {"empty model file", generate_args(write_variant("empty.bin", ""), kTokenizer, {}), "truncated"},
      {"truncated model", generate_args(write_variant("truncated.bin", model.substr(0, model.size() / 2)), kTokenizer, {}),
       "truncated"},
      {"header longer than the file",
       generate_args(write_variant("more-layers.bin", with_header_field(model, 2, 6)), kTokenizer, {}),
       "does not match its header"},
      {"header shorter than the file",
       generate_args(write_variant("fewer-layers.bin", with_header_field(model, 2, 4)), kTokenizer, {}),
       "does not match its header"},
      {"negative header field",
       generate_args(write_variant("negative-dim.bin", with_header_field(model, 0, -64)), kTokenizer, {}),
       "out of range"},
      {"heads not dividing dim",
       generate_args(write_variant("bad-heads.bin", with_header_field(model, 3, 7)), kTokenizer, {}),
       "not divisible"},
      {"tokenizer with a huge length field", generate_args(kModel, write_variant("tok-huge.bin", bad_length), {}),
       "has length"},
      {"tokenizer with a negative length field",
       generate_args(kModel, write_variant("tok-negative.bin", negative_length), {}), "has length"},
      {"truncated tokenizer", generate_args(kModel, write_variant("tok-short.bin", tokenizer.substr(0, 3000)), {}),
       "truncated"},
      {"empty prompt", generate_args(kModel, kTokenizer, {"--prompt", ""}), "--prompt is empty"},
      {"prompt longer than the context", generate_args(kModel, kTokenizer, {"--prompt", long_prompt}),
       "longer than the model's context"},
      {"negative temperature", generate_args(kModel, kTokenizer, {"--temperature", "-0.5"}), "--temperature"},
      {"NaN temperature", generate_args(kModel, kTokenizer, {"--temperature", "nan"}), "--temperature"},
      {"infinite temperature", generate_args(kModel, kTokenizer, {"--temperature", "inf"}), "--temperature"},
      {"negative top-p", generate_args(kModel, kTokenizer, {"--top-p", "-0.1"}), "--top-p"},
      {"NaN top-p", generate_args(kModel, kTokenizer, {"--top-p", "NaN"}), "--top-p"},
      {"zero top-p", generate_args(kModel, kTokenizer, {"--top-p", "0"}), "--top-p"},
      {"top-p above one", generate_args(kModel, kTokenizer, {"--top-p", "1.5"}), "--top-p"},
      {"negative top-k", generate_args(kModel, kTokenizer, {"--top-k", "-3"}), "--top-k"},
      {"min-p above one", generate_args(kModel, kTokenizer, {"--min-p", "2"}), "--min-p"},
      {"unknown weight precision", generate_args(kModel, kTokenizer, {"--weights", "int3"}),
       "--weights expects f32, f16, bf16, int8 or int4, got 'int3'"},
      {"weights given twice", generate_args(kModel, kTokenizer, {"--weights", "int8", "--dtype", "bf16"}),
       "--weights and --dtype are one setting"},
      // Speculation's caches are f32: a bf16 cache would be reported while f32 ran.
      {"speculation with a bf16 cache", generate_args(kModel, kTokenizer, {"--speculate", "4", "--kv-dtype", "bf16"}),
       "--kv-dtype bf16 cannot be used with them"},
      {"zero repetition penalty", generate_args(kModel, kTokenizer, {"--repetition-penalty", "0"}), "--repetition-penalty"},
      {"NaN presence penalty", generate_args(kModel, kTokenizer, {"--presence-penalty", "nan"}), "--presence-penalty"},
      {"negative max new tokens", generate_args(kModel, kTokenizer, {"--max-new-tokens", "-1"}), "--max-new-tokens"},
      {"non-numeric seed", generate_args(kModel, kTokenizer, {"--seed", "abc"}), "--seed"},
      {"zero threads", generate_args(kModel, kTokenizer, {"--threads", "0"}), "--threads"},
      {"unknown dtype", generate_args(kModel, kTokenizer, {"--dtype", "f8"}), "--dtype expects f32, f16, bf16, int8 or int4"},
      {"unknown flag", generate_args(kModel, kTokenizer, {"--temprature", "0"}), "unknown flag --temprature"},
      // Flags are checked before the model is opened: a typo must not wait for a large model to load.
      {"unknown flag before the model loads",
       generate_args(temp_dir() + "/no-such-model.bin", kTokenizer, {"--temprature", "0"}), "unknown flag --temprature"},
      {"bad KV cache size before the model loads",
       generate_args(temp_dir() + "/no-such-model.bin", kTokenizer, {"--kv-cache-memory", "lots"}), "--kv-cache-memory"},
      {"serve's unknown flag before the model loads",
       {"serve", "--model", temp_dir() + "/no-such-model.bin", "--prot", "1"}, "unknown flag --prot"},
      {"flag without value", {"generate", "--model"}, "needs a value"},
      {"missing prompt flag", {"generate", "--model", kModel}, "--prompt"},
      {"model is a directory without config.json", generate_args(std::string(SHARDLM_TEST_DATA), kTokenizer, {}), "without config.json"},
      {"perplexity without a text", {"perplexity", "--model", kModel}, "--text"},
      {"perplexity of a missing text", {"perplexity", "--model", kModel, "--text", temp_dir() + "/no-such.txt"},
       "cannot be read"},
      {"perplexity of an empty text", {"perplexity", "--model", kModel, "--text", write_variant("empty.txt", "")},
       "is empty"},
      {"perplexity over pipeline stages", {"perplexity", "--model", kModel, "--text", kTokenizer, "--pp", "2"},
       "one pipeline stage"},
      {"perplexity window of one", {"perplexity", "--model", kModel, "--text", kTokenizer, "--context", "1"},
       "--context"},
  };
}

class BadInput : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInput, FailsWithOneClearLine) {
  const BadCase& bad = GetParam();
  expect_clean_failure(run_cli(bad.args), bad.message_part);
}

std::string case_name(const ::testing::TestParamInfo<BadCase>& info) {
  std::string name;
  for (char c : info.param.name) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

INSTANTIATE_TEST_SUITE_P(Generate, BadInput, ::testing::ValuesIn(bad_cases()), case_name);

TEST(Cli, UnknownCommandIsAUsageError) {
  const CliResult run = run_cli({"frobnicate"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("unknown command 'frobnicate'"), std::string::npos) << run.err;
}

// The kernels' choices from the environment are checked before any work, whatever the prompt's
// length (a one-token prompt multiplies single rows only, which never ask for the prefill's choice).
TEST(Cli, BadKernelEnvironmentIsAnErrorNamingTheVariable) {
  const struct {
    const char* variable;
    const char* value;
  } cases[] = {{"SHARDLM_PREFILL_INPUTS", "int4"}, {"SHARDLM_SIMD", "avx3"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.variable);
    const CliResult run = run_program({"/usr/bin/env", std::string(c.variable) + "=" + c.value, SHARDLM_BINARY,
                                       "generate", "--model", kModel, "--tokenizer", kTokenizer, "--prompt", "O"});
    expect_clean_failure(run, std::string(c.variable) + "='" + c.value + "'");
  }
}

}  // namespace
}  // namespace shardlm::testing
