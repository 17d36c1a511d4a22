// safetensors headers, good and hostile, written byte by byte by the test.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "runtime/core/check.h"
#include "runtime/model/weights/safetensors.h"

namespace shardlm {
namespace {

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "/safetensors_test_" + name; }

// A file of: u64 header length, the header text, then `data`.
std::string write_file(const std::string& name, const std::string& header, const std::string& data,
                       uint64_t claimed_length = UINT64_MAX) {
  const std::string path = temp_path(name);
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = claimed_length == UINT64_MAX ? header.size() : claimed_length;
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << header << data;
  return path;
}

std::string floats(std::initializer_list<float> values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.begin(), bytes.size());
  return bytes;
}

void expect_error(const std::string& path, const std::string& message_part) {
  try {
    SafetensorsCheckpoint::open(path);
    FAIL() << "accepted " << path;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(message_part), std::string::npos) << error.what();
  }
}

TEST(Safetensors, ReadsTensorsInPlace) {
  const std::string path =
      write_file("good", R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                         R"("a":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]}})",
                 std::string("\x80\x3f\x00\x40\x00\x00\x80\xbf", 8) + floats({1.5f, -2.0f}));
  const auto checkpoint = SafetensorsCheckpoint::open(path);
  EXPECT_EQ(checkpoint.names(), (std::vector<std::string>{"a", "b"}));
  const Tensor b = checkpoint.tensor("b");
  EXPECT_EQ(b.dtype(), DType::f32);
  EXPECT_EQ(b.data_as<float>()[0], 1.5f);
  EXPECT_EQ(b.data_as<float>()[1], -2.0f);
  const Tensor a = checkpoint.tensor("a");
  EXPECT_EQ(a.shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(load_as_f32(a.data(), DType::bf16, 0), 1.0f);   // 0x3F80
  EXPECT_EQ(load_as_f32(a.data(), DType::bf16, 3), -1.0f);  // 0xBF80
  EXPECT_EQ(checkpoint.total_bytes(), 16u);
}

TEST(Safetensors, ShardedWithAnIndex) {
  const std::string dir = temp_path("sharded");
  std::filesystem::create_directories(dir);
  std::filesystem::rename(write_file("s1", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({3.0f})),
                          dir + "/one.safetensors");
  std::filesystem::rename(write_file("s2", R"({"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({4.0f})),
                          dir + "/two.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json")
      << R"({"metadata":{},"weight_map":{"x":"one.safetensors","y":"two.safetensors"}})";
  const auto checkpoint = SafetensorsCheckpoint::open(dir);
  EXPECT_EQ(checkpoint.tensor("y").data_as<float>()[0], 4.0f);
  EXPECT_EQ(checkpoint.tensor("x").data_as<float>()[0], 3.0f);
  std::ofstream(dir + "/model.safetensors.index.json") << R"({"weight_map":{"x":"missing.safetensors"}})";
  expect_error(dir, "missing.safetensors");
}

TEST(Safetensors, HostileHeadersAreRejected) {
  const std::string one = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  expect_error(write_file("huge-length", one, floats({1, 2}), uint64_t{1} << 60), "header length");
  expect_error(write_file("truncated", one, floats({1})), "outside the 4 data bytes");
  expect_error(write_file("overlap",
                          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                          floats({1, 2, 3})),
               "overlap");
  expect_error(write_file("wrong-size", R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", floats({1, 2})),
               "shape and dtype need 12");
  expect_error(write_file("unknown-dtype", R"({"t":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})",
                          floats({1, 2})),
               "dtype F8_E4M3");
  expect_error(write_file("not-json", "{nope", floats({1, 2})), "not a JSON object");
  expect_error(write_file("negative-shape", R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", floats({1, 2})),
               "bad shape entry");
  expect_error(write_file("reversed", R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", floats({1, 2})),
               "outside");
  expect_error(write_file("no-offsets", R"({"t":{"dtype":"F32","shape":[2]}})", floats({1, 2})), "data_offsets");
  expect_error(temp_path("does-not-exist"), "does not exist");
}

TEST(Safetensors, MissingTensorIsNamed) {
  const auto checkpoint = SafetensorsCheckpoint::open(
      write_file("named", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", floats({1})));
  try {
    checkpoint.tensor("model.norm.weight");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("model.norm.weight"), std::string::npos);
  }
}

}  // namespace
}  // namespace shardlm
