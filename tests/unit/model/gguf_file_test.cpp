// GGUF files assembled byte by byte, with values decoded by hand from the format's definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/core/check.h"
#include "runtime/model/weights/ggml_dequantize.h"
#include "runtime/model/weights/gguf_file.h"

namespace shardlm {
namespace {

class GgufWriter {
 public:
  template <typename T>
  GgufWriter& put(T value) {
    bytes_.append(reinterpret_cast<const char*>(&value), sizeof(T));
    return *this;
  }
  GgufWriter& str(const std::string& s) {
    put<uint64_t>(s.size());
    bytes_ += s;
    return *this;
  }
  GgufWriter& raw(const std::string& s) {
    bytes_ += s;
    return *this;
  }
  void pad(size_t alignment) {
    while (bytes_.size() % alignment != 0) bytes_ += '\0';
  }
  std::string save(const std::string& name) const {
    const std::string path = ::testing::TempDir() + "/gguf_test_" + name;
    std::ofstream(path, std::ios::binary) << bytes_;
    return path;
  }
  std::string bytes_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Q4_1 block: scale 0.5 (f16 0x3800), minimum -1 (f16 0xBC00), byte j = nibble j | nibble (15 - j) << 4.
std::string q4_1_block() {
  std::string block = std::string("\x00\x38\x00\xBC", 4);
  for (int j = 0; j < 16; ++j) block += static_cast<char>(j | ((15 - j) << 4));
  return block;
}

// Q8_0 block: scale 0.25 (f16 0x3400), values -16 .. 15.
std::string q8_0_block() {
  std::string block = std::string("\x00\x34", 2);
  for (int j = 0; j < 32; ++j) block += static_cast<char>(static_cast<int8_t>(j - 16));
  return block;
}

GgufWriter model_file(uint64_t second_offset = 32, uint32_t version = 3) {
  GgufWriter w;
  w.put<uint32_t>(0x46554747).put<uint32_t>(version).put<uint64_t>(2).put<uint64_t>(3);
  w.str("general.architecture").put<uint32_t>(8).str("llama");
  w.str("llama.block_count").put<uint32_t>(4).put<uint32_t>(2);
  w.str("tokenizer.ggml.tokens").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("a").str("b");
  w.str("q").put<uint32_t>(2).put<uint64_t>(32).put<uint64_t>(1).put<uint32_t>(3).put<uint64_t>(0);
  w.str("e").put<uint32_t>(2).put<uint64_t>(32).put<uint64_t>(1).put<uint32_t>(8).put<uint64_t>(second_offset);
  w.pad(32);
  w.raw(q4_1_block());
  w.pad(32);
  w.raw(q8_0_block());
  return w;
}

void expect_error(const std::string& path, const std::string& message_part) {
  try {
    GgufFile::open(path);
    FAIL() << "accepted " << path;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

TEST(GgufFile, ReadsMetadataAndTensors) {
  const GgufFile g = GgufFile::open(model_file().save("good"));
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.string("general.architecture"), "llama");
  EXPECT_EQ(g.integer("llama.block_count"), 2);
  EXPECT_EQ(g.strings("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g.tensor("q").type, GgmlType::q4_1);
  EXPECT_EQ(g.tensor("q").shape, (std::vector<int64_t>{1, 32}));
  EXPECT_EQ(g.tensor("q").bytes, 20u);
  EXPECT_EQ(g.tensor("e").bytes, 34u);
  EXPECT_TRUE(GgufFile::has_magic(model_file().save("magic")));
  EXPECT_EQ(GgufFile::open(model_file(32, 2).save("version2")).version(), 2u);  // v2 has v3's layout
}

TEST(GgufFile, DequantizesQ4_1AndQ8_0AsTheFormatDefines) {
  const GgufFile g = GgufFile::open(model_file().save("dequant"));
  float q[32], e[32];
  dequantize_row(GgmlType::q4_1, g.tensor("q").data, q, 32);
  dequantize_row(GgmlType::q8_0, g.tensor("e").data, e, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(q[j], 0.5f * j - 1.0f) << j;               // low nibble of byte j
    EXPECT_EQ(q[j + 16], 0.5f * (15 - j) - 1.0f) << j;  // high nibble of byte j
  }
  for (int j = 0; j < 32; ++j) EXPECT_EQ(e[j], 0.25f * (j - 16)) << j;
}

// Q4_0 (value = scale x (nibble - 8)) repacked as q4_1 keeps every value: checked against ggml's own
// Q4_0 rule, with a scale whose product by 8 is exact and one whose products are not small integers.
TEST(GgufFile, Q4_0RepacksIntoQ4_1WithoutChangingAValue) {
  for (const char* scale : {"\x00\x38", "\x66\x2e"}) {  // 0.5 and 0.0999...
    std::string block(scale, 2);
    for (int j = 0; j < 16; ++j) block += static_cast<char>((j * 7) % 16 | ((j * 3 + 5) % 16) << 4);
    float expected[32];
    dequantize_row(GgmlType::q4_0, reinterpret_cast<const uint8_t*>(block.data()), expected, 32);
    BlockQ4_1 repacked;
    repack_q4_0_as_q4_1(reinterpret_cast<const uint8_t*>(block.data()), 1, &repacked);
    for (size_t i = 0; i < 32; ++i) EXPECT_EQ(load_as_f32(&repacked, DType::q4_1, i), expected[i]) << i;
  }
}

// Q4_K and Q6_K super-blocks of random bytes against the gguf package's own dequantization
// (tests/reference/make_kquant_fixture.py): ShardLM's decoding gives the same values; Q4_K repacked
// into q4_1 blocks keeps each within 2^-11 of its sub-block's range (scale and minimum rounded to
// f16), and Q6_K requantized into q8_0 within half a step of the new scale.
TEST(GgufFile, KQuantsDecodeAsGgufDoesAndRepackClosely) {
  const auto fixture = nlohmann::json::parse(
      read_all(std::string(SHARDLM_TEST_DATA) + "/../fixtures/kquants/expected.json"));
  for (const char* kind : {"q4_K", "q6_K"}) {
    const GgmlType type = std::string(kind) == "q4_K" ? GgmlType::q4_K : GgmlType::q6_K;
    for (const auto& block : fixture[kind]) {
      SCOPED_TRACE(kind);
      const std::string hex = block["bytes"];
      std::vector<uint8_t> bytes(hex.size() / 2);
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
      const auto want = block["values"].get<std::vector<float>>();
      ASSERT_EQ(want.size(), 256u);
      std::vector<float> got(256);
      dequantize_row(type, bytes.data(), got.data(), 256);
      float largest = 0;
      for (size_t i = 0; i < 256; ++i) {
        EXPECT_NEAR(got[i], want[i], 1e-6 * std::fabs(want[i])) << i;
        largest = std::max(largest, std::fabs(want[i]));
      }
      if (type == GgmlType::q4_K) {
        BlockQ4_1 repacked[8];
        repack_q4_K_as_q4_1(bytes.data(), 1, repacked);
        for (size_t i = 0; i < 256; ++i) {
          const BlockQ4_1& sub = repacked[i / 32];
          const float range = 15 * std::fabs(f16_to_f32(sub.scale)) + std::fabs(f16_to_f32(sub.minimum));
          EXPECT_NEAR(load_as_f32(repacked, DType::q4_1, i), want[i], 0x1p-11f * range + 1e-6f) << i;
        }
      } else {
        BlockQ8_0 requantized[8];
        requantize_q6_K_as_q8_0(bytes.data(), 1, requantized);
        for (size_t i = 0; i < 256; ++i) {
          const float step = f16_to_f32(requantized[i / 32].scale);
          EXPECT_NEAR(load_as_f32(requantized, DType::q8_0, i), want[i], step / 2 * 1.001f + 1e-6f) << i;
        }
      }
    }
  }
}

TEST(GgufFile, HostileFilesAreRejected) {
  const std::string good = model_file().bytes_;
  GgufWriter truncated;
  truncated.raw(good.substr(0, good.size() - 10));
  expect_error(truncated.save("truncated"), "runs past the end");
  expect_error(model_file(1ull << 50).save("far-offset"), "runs past the end");
  expect_error(model_file(32, 1).save("version"), "version 1");
  GgufWriter huge_string;
  huge_string.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).put<uint64_t>(1ull << 60);
  expect_error(huge_string.save("huge-string"), "claims");
  GgufWriter huge_array;
  huge_array.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(1).str("k").put<uint32_t>(9)
      .put<uint32_t>(4).put<uint64_t>(1ull << 40);
  expect_error(huge_array.save("huge-array"), "claims");
  GgufWriter bad_type;
  bad_type.put<uint32_t>(0x46554747).put<uint32_t>(3).put<uint64_t>(1).put<uint64_t>(0).str("t").put<uint32_t>(1)
      .put<uint64_t>(32).put<uint32_t>(99).put<uint64_t>(0);
  expect_error(bad_type.save("bad-type"), "ggml type 99");
  GgufWriter not_gguf;
  not_gguf.raw("PK\x03\x04 definitely not gguf");
  expect_error(not_gguf.save("not-gguf"), "not a GGUF file");
}

}  // namespace
}  // namespace shardlm
