// Model presets read as the config.json they copy, and bad ones refused naming the key.
#include <gtest/gtest.h>

#include <fstream>

#include "runtime/cli/plan_model.h"
#include "runtime/core/check.h"
#include "runtime/core/temp_dir.h"

namespace shardlm::cli {
namespace {

std::string write_yaml(const std::string& name, const std::string& text) {
  const std::string path = process_temp_dir().file("shardlm_model_" + name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

TEST(ModelPreset, PublishedShapes) {
  // MODELS.md section 1.
  const ModelSpec llama = read_plan_model("llama-2-70b").spec;
  EXPECT_EQ(llama.hidden, 8192);
  EXPECT_EQ(llama.kv_heads, 8);
  EXPECT_EQ(llama.ffn_hidden, 28672);
  const ModelSpec falcon = read_plan_model("falcon-180b").spec;
  EXPECT_EQ(falcon.heads, 232);
  EXPECT_EQ(falcon.kv_heads, 8);
  EXPECT_EQ(falcon.ffn_hidden, 59392);
  EXPECT_EQ(read_plan_model("falcon-7b").spec.kv_heads, 1);
  EXPECT_EQ(read_plan_model("octocoder").spec.kv_heads, 1);
  EXPECT_EQ(read_plan_model("mpt-30b").spec.head_dim, 112);
  EXPECT_EQ(read_plan_model("bloom-176b").spec.max_seq_len, 2048);
  // The preset and the checkpoint describe the same stories260K.
  const ModelSpec preset = read_plan_model("stories260k").spec;
  const ModelSpec file = read_plan_model(std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin").spec;
  EXPECT_EQ(preset.hidden, file.hidden);
  EXPECT_EQ(preset.ffn_hidden, file.ffn_hidden);
  EXPECT_EQ(preset.kv_heads, file.kv_heads);
  EXPECT_EQ(preset.vocab_size, file.vocab_size);
  EXPECT_EQ(preset.max_seq_len, file.max_seq_len);
}

TEST(ModelPreset, BadPresetsNameTheProblem) {
  auto expect_error = [](const std::string& model, const std::string& part) {
    try {
      read_plan_model(model);
      FAIL() << model;
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
    }
  };
  expect_error("llama-9-7b", "neither a preset (");
  expect_error(write_yaml("typo", "architectures: [LlamaForCausalLM]\nhiden_size: 64\n"), "unknown key 'hiden_size'");
  expect_error(write_yaml("negative",
                          "architectures: [LlamaForCausalLM]\nhidden_size: -64\nintermediate_size: 10\n"
                          "num_hidden_layers: 2\nnum_attention_heads: 2\nvocab_size: 10\n"),
               "hidden");
}

}  // namespace
}  // namespace shardlm::cli
