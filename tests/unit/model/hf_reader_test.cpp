// Hugging Face checkpoint directories that are broken in the ways real downloads break: a config
// that does not match the weights, missing or NaN fields, an unknown architecture.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/core/check.h"
#include "runtime/model/model_loader.h"

namespace shardlm {
namespace {

namespace fs = std::filesystem;
const std::string kLlama = std::string(SHARDLM_TEST_DATA) + "/../fixtures/llama";

// A copy of the llama fixture whose config.json text is `config`.
std::string checkpoint_with_config(const std::string& name, const std::string& config) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("hf_reader_test_" + name);
  fs::create_directories(dir);
  fs::copy_file(fs::path(kLlama) / "model.safetensors", dir / "model.safetensors", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "config.json") << config;
  return dir.string();
}

nlohmann::json llama_config() {
  std::ifstream in(fs::path(kLlama) / "config.json");
  return nlohmann::json::parse(in);
}

void expect_load_error(const std::string& dir, const std::string& message_part) {
  try {
    load_model(dir, std::nullopt);
    FAIL() << "loaded " << dir;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

TEST(HfReader, TheFixtureLoads) {
  const LoadedModel model = load_model(checkpoint_with_config("good", llama_config().dump()), std::nullopt);
  EXPECT_EQ(model.spec.family, "llama");
  EXPECT_EQ(model.spec.rope_scaling, RopeScaling::linear);
}

TEST(HfReader, MoreLayersThanTheWeightsHoldNamesTheMissingTensor) {
  auto config = llama_config();
  config["num_hidden_layers"] = config["num_hidden_layers"].get<int>() + 1;
  const int missing = config["num_hidden_layers"].get<int>() - 1;
  expect_load_error(checkpoint_with_config("more-layers", config.dump()),
                    "no tensor 'model.layers." + std::to_string(missing) + ".input_layernorm.weight'");
}

TEST(HfReader, ShapesThatDisagreeWithTheConfigAreNamed) {
  auto config = llama_config();
  config["intermediate_size"] = config["intermediate_size"].get<int>() * 2;
  expect_load_error(checkpoint_with_config("wider-ffn", config.dump()), "mlp.gate_proj.weight' is");
}

TEST(HfReader, NanAndMissingFieldsAreRejected) {
  std::string text = llama_config().dump();
  const std::string key = "\"rms_norm_eps\":";
  const size_t at = text.find(key);
  ASSERT_NE(at, std::string::npos);
  const size_t end = text.find_first_of(",}", at);
  text.replace(at, end - at, key + "NaN");
  expect_load_error(checkpoint_with_config("nan-eps", text), "not valid JSON");

  auto config = llama_config();
  config["rms_norm_eps"] = -1.0;
  expect_load_error(checkpoint_with_config("negative-eps", config.dump()), "norm epsilon");
  config = llama_config();
  config.erase("hidden_size");
  expect_load_error(checkpoint_with_config("no-hidden", config.dump()), "has no hidden_size");
  config = llama_config();
  config["num_attention_heads"] = "eight";
  expect_load_error(checkpoint_with_config("string-heads", config.dump()), "num_attention_heads must be an integer");
  config = llama_config();
  config["num_key_value_heads"] = 3;
  expect_load_error(checkpoint_with_config("bad-groups", config.dump()), "cannot be grouped");
}

TEST(HfReader, UnknownArchitectureListsTheKnownOnes) {
  auto config = llama_config();
  config["architectures"] = {"MambaForCausalLM"};
  config["model_type"] = "mamba";
  expect_load_error(checkpoint_with_config("mamba", config.dump()), "'MambaForCausalLM' (model_type 'mamba') is not supported");
}

TEST(HfReader, ReducedPrecisionOnRequest) {
  const LoadedModel model = load_model(checkpoint_with_config("bf16", llama_config().dump()), DType::bf16);
  EXPECT_EQ(model.weights.layers[0].q.weight.dtype(), DType::bf16);
  EXPECT_EQ(model.weights.layers[0].attn_norm.weight.dtype(), DType::f32);
}

}  // namespace
}  // namespace shardlm
