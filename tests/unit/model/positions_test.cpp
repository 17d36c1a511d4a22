// RoPE's frequency tables and attention factor (runtime/model/positions) against transformers'
// LlamaRotaryEmbedding for every scaling type (tests/fixtures/rope_tables, made by
// tests/reference/make_fixtures.py), the rope_scaling errors of the config reader, and the GGUF
// reader's RoPE metadata (YaRN keys, Llama 3.1's rope_freqs tensor).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numbers>
#include <string>
#include <vector>

#include "runtime/cli/plan_model.h"
#include "runtime/core/check.h"
#include "runtime/model/families/family.h"
#include "runtime/model/model_loader.h"
#include "runtime/model/positions.h"
#include "runtime/model/weights/gguf_file.h"
#include "runtime/model/weights/gguf_reader.h"

namespace shardlm {
namespace {

const std::string kFixtures = std::string(SHARDLM_TEST_DATA) + "/../fixtures";

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

ModelSpec spec_of(const nlohmann::json& config, const std::string& name = "config.json") {
  const ConfigJson c(config, name);
  ModelSpec spec = family_for(c).read_config(c);
  spec.validate();
  return spec;
}

void expect_config_error(const nlohmann::json& config, const std::string& message_part) {
  try {
    spec_of(config);
    FAIL() << "accepted " << config.dump();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

nlohmann::json small_llama(const nlohmann::json& rope_scaling) {
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}}, {"vocab_size", 32}, {"hidden_size", 128},
                           {"intermediate_size", 64}, {"num_hidden_layers", 1}, {"num_attention_heads", 2},
                           {"head_dim", 64}, {"max_position_embeddings", 8192}, {"rope_theta", 10000.0}};
  config["rope_scaling"] = rope_scaling;
  return config;
}

TEST(RopeFrequencies, MatchTransformersForEveryScalingType) {
  const nlohmann::json tables = read_json(kFixtures + "/rope_tables/expected.json");
  ASSERT_GE(tables["cases"].size(), 8u);
  for (const auto& c : tables["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const ModelSpec spec = spec_of(c["config"], c["name"].get<std::string>());
    const std::vector<double> frequencies = rope_frequencies(spec, 1);
    const auto want = c["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(frequencies.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      // transformers computes in float32: theta ** (2i/d) and its reciprocal are each within an ulp or two
      // (6e-8 relative each), and the Llama 3 blend or YaRN mix adds two or three roundings of the same
      // size; 1e-6 relative covers that ten times over and is far below any real change (a wrong band or
      // ramp end moves a frequency by the factor, 2x to 40x).
      EXPECT_NEAR(frequencies[i], want[i], 1e-6 * want[i]) << "pair " << i;
    }
    // The attention factor is Python double arithmetic on both sides.
    EXPECT_NEAR(rope_attention_factor(spec), c["attention_factor"].get<double>(), 1e-6);
  }
}

// The golden fixtures' own tables, as the model that produced their logits used them.
TEST(RopeFrequencies, MatchTheScaledGoldenFixtures) {
  for (const std::string name : {"llama3_rope", "llama_yarn"}) {
    SCOPED_TRACE(name);
    const ModelSpec spec = read_model_spec(kFixtures + "/" + name);
    const nlohmann::json expected = read_json(kFixtures + "/" + name + "/expected.json")["rope_scaling"];
    const std::vector<double> frequencies = rope_frequencies(spec, 1);
    const auto want = expected["inv_freq"].get<std::vector<double>>();
    ASSERT_EQ(frequencies.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(frequencies[i], want[i], 1e-6 * want[i]) << "pair " << i;
    EXPECT_NEAR(rope_attention_factor(spec), expected["attention_factor"].get<double>(), 1e-6);
  }
}

TEST(RopeFrequencies, DynamicNtkGrowsThetaOnlyPastTheTrainedContext) {
  const ModelSpec spec = spec_of(small_llama({{"type", "dynamic"}, {"factor", 2.0}}));
  EXPECT_EQ(rope_frequencies(spec, 8192), rope_frequencies(spec_of(small_llama(nullptr)), 1));
  const std::vector<double> longer = rope_frequencies(spec, 16384);
  const double base = 10000.0 * std::pow(2.0 * 16384 / 8192 - 1.0, 64.0 / 62.0);
  EXPECT_NEAR(longer[1], std::pow(base, -2.0 / 64), 1e-12);
}

TEST(RopeScalingConfig, UnknownOrMalformedScalingIsNamed) {
  expect_config_error(small_llama({{"rope_type", "longrope"}, {"factor", 2.0}}), "rope_type 'longrope'");
  expect_config_error(small_llama({{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0},
                                   {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192},
                                   {"low_freq_facter", 1.0}}),
                      "key 'low_freq_facter'");
  expect_config_error(small_llama({{"rope_type", "llama3"}, {"factor", 8.0}, {"high_freq_factor", 4.0}}),
                      "needs 'low_freq_factor'");
  expect_config_error(small_llama({{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 4.0},
                                   {"high_freq_factor", 4.0}}),
                      "low_freq_factor 4 and high_freq_factor 4");
  expect_config_error(small_llama({{"rope_type", "yarn"}, {"factor", "4"}}), "factor must be a number");
  expect_config_error(small_llama({{"rope_type", "yarn"}, {"factor", 0.5}}), "factor must be a number of at least 1");
  expect_config_error(small_llama({{"rope_type", "yarn"}, {"factor", 4.0}, {"attention_factor", -1.0}}),
                      "attention_factor must be positive");
  expect_config_error(small_llama({{"rope_type", "yarn"}, {"factor", 4.0}, {"truncate", 1}}), "truncate must be true");
  expect_config_error(small_llama({{"rope_type", 3}}), "rope_type must be a string");
  expect_config_error(small_llama("yarn"), "rope_scaling must be an object");
}

TEST(RopeScalingConfig, TransformersFiveRopeParametersAreReadWithoutRopeScaling) {
  nlohmann::json config = small_llama(nullptr);
  config.erase("rope_scaling");
  config.erase("rope_theta");
  config["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0},
                               {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 1024}};
  const ModelSpec spec = spec_of(config);
  EXPECT_EQ(spec.rope_scaling, RopeScaling::llama3);
  EXPECT_EQ(spec.rope_theta, 500000.0f);
  EXPECT_EQ(spec.rope_original_context, 1024.0f);
}

// The Llama 3.1 preset (configs/models) reads as the published config means: llama3 scaling of the
// 8K pretraining context, the 128K context kept.
TEST(RopeScalingConfig, TheLlama31PresetCarriesItsScaling) {
  const ModelSpec spec = cli::read_plan_model("llama-3.1-405b").spec;
  EXPECT_EQ(spec.rope_scaling, RopeScaling::llama3);
  EXPECT_EQ(spec.rope_scaling_factor, 8.0f);
  EXPECT_EQ(spec.rope_low_freq_factor, 1.0f);
  EXPECT_EQ(spec.rope_high_freq_factor, 4.0f);
  EXPECT_EQ(spec.rope_original_context, 8192.0f);
  EXPECT_EQ(spec.max_seq_len, 131072);
  EXPECT_EQ(spec.head_dim, 128);
  EXPECT_EQ(cli::read_plan_model("llama-3-70b").spec.rope_scaling, RopeScaling::none);
}

// A GGUF Llama header with the given extra metadata (each a key, a GGUF value type and its bytes) and,
// when divisors are given, a rope_freqs.weight tensor holding them.
std::string write_gguf(const std::string& name, const std::vector<std::string>& extra_metadata,
                       const std::vector<float>& divisors) {
  std::string bytes;
  const auto put32 = [&](uint32_t v) { bytes.append(reinterpret_cast<const char*>(&v), 4); };
  const auto put64 = [&](uint64_t v) { bytes.append(reinterpret_cast<const char*>(&v), 8); };
  const auto str = [&](const std::string& s) {
    put64(s.size());
    bytes += s;
  };
  const auto u32_entry = [&](const std::string& key, uint32_t v) {
    str(key);
    put32(4);
    put32(v);
  };
  put32(0x46554747);
  put32(3);
  put64(divisors.empty() ? 0 : 1);
  put64(8 + extra_metadata.size());
  str("general.architecture");
  put32(8);
  str("llama");
  u32_entry("llama.embedding_length", 64);
  u32_entry("llama.block_count", 1);
  u32_entry("llama.attention.head_count", 4);
  u32_entry("llama.feed_forward_length", 128);
  u32_entry("llama.context_length", 4096);
  u32_entry("llama.vocab_size", 32);
  str("llama.rope.freq_base");
  put32(6);
  const float theta = 500000.0f;
  bytes.append(reinterpret_cast<const char*>(&theta), 4);
  for (const std::string& entry : extra_metadata) bytes += entry;
  if (!divisors.empty()) {
    str("rope_freqs.weight");
    put32(1);
    put64(divisors.size());
    put32(0);  // f32
    put64(0);
  }
  while (bytes.size() % 32 != 0) bytes += '\0';
  bytes.append(reinterpret_cast<const char*>(divisors.data()), divisors.size() * sizeof(float));
  const std::string path = ::testing::TempDir() + "/positions_test_" + name + ".gguf";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

std::string gguf_entry(const std::string& key, uint32_t type, const std::string& value) {
  std::string bytes;
  const uint64_t length = key.size();
  bytes.append(reinterpret_cast<const char*>(&length), 8);
  bytes += key;
  bytes.append(reinterpret_cast<const char*>(&type), 4);
  return bytes + value;
}

template <typename T>
std::string bytes_of(T value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(T));
}

std::string gguf_string(const std::string& s) { return bytes_of<uint64_t>(s.size()) + s; }

TEST(RopeGguf, RopeFreqsDivideEachPairsFrequency) {
  // Llama 3.1's factors for head_dim 16 as llama.cpp's converter writes them: 1 for high frequencies,
  // the factor for low ones, a blend between.
  const std::vector<float> divisors = {1.0f, 1.0f, 1.5f, 3.0f, 8.0f, 8.0f, 8.0f, 8.0f};
  const ModelSpec spec = gguf_model_spec(GgufFile::open(write_gguf("freqs", {}, divisors)));
  ASSERT_EQ(spec.rope_frequency_divisors, divisors);
  const std::vector<double> plain = ref::rope_frequencies(16, 500000.0), got = rope_frequencies(spec, 1);
  for (size_t i = 0; i < divisors.size(); ++i) EXPECT_DOUBLE_EQ(got[i], plain[i] / divisors[i]);
  EXPECT_EQ(rope_attention_factor(spec), 1.0f);
}

TEST(RopeGguf, WrongRopeFreqsShapeIsNamed) {
  try {
    gguf_model_spec(GgufFile::open(write_gguf("freqs-short", {}, {1.0f, 2.0f})));
    FAIL() << "accepted a rope_freqs of 2 for 8 pairs";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("rope_freqs.weight"), std::string::npos) << error.what();
  }
}

TEST(RopeGguf, YarnReadsTheFactorAndTrainedContext) {
  const ModelSpec spec = gguf_model_spec(GgufFile::open(
      write_gguf("yarn",
                 {gguf_entry("llama.rope.scaling.type", 8, gguf_string("yarn")),
                  gguf_entry("llama.rope.scaling.factor", 6, bytes_of(4.0f)),
                  gguf_entry("llama.rope.scaling.original_context_length", 4, bytes_of<uint32_t>(1024))},
                 {})));
  EXPECT_EQ(spec.rope_scaling, RopeScaling::yarn);
  EXPECT_EQ(spec.rope_scaling_factor, 4.0f);
  EXPECT_EQ(spec.rope_original_context, 1024.0f);
  EXPECT_NEAR(rope_attention_factor(spec), 0.1 * std::log(4.0) + 1.0, 1e-6);
  try {
    gguf_model_spec(GgufFile::open(write_gguf("yarn-tuned",
                                              {gguf_entry("llama.rope.scaling.type", 8, gguf_string("yarn")),
                                               gguf_entry("llama.rope.scaling.original_context_length", 4,
                                                          bytes_of<uint32_t>(1024)),
                                               gguf_entry("llama.rope.scaling.attn_factor", 6, bytes_of(0.5f))},
                                              {})));
    FAIL() << "accepted a YaRN attn_factor";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("llama.rope.scaling.attn_factor"), std::string::npos) << error.what();
  }
  try {
    gguf_model_spec(GgufFile::open(
        write_gguf("longrope", {gguf_entry("llama.rope.scaling.type", 8, gguf_string("longrope"))}, {})));
    FAIL() << "accepted longrope";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("llama.rope.scaling.type 'longrope'"), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace shardlm
