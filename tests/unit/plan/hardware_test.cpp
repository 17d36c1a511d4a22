// Hardware files: the presets read, and every bad key or value is an error naming it.
#include "runtime/plan/hardware.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "runtime/core/check.h"

namespace shardlm::plan {
namespace {

std::string write_yaml(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / ("shardlm_hw_" + name + ".yaml");
  std::ofstream(path) << text;
  return path.string();
}

void expect_error(const std::string& yaml, const std::string& part) {
  try {
    read_hardware(write_yaml(std::to_string(std::hash<std::string>{}(yaml)), yaml));
    FAIL() << "accepted:\n" << yaml;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(part), std::string::npos) << error.what();
  }
}

const std::string kGood =
    "kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 2039\nflops_tflops: {bf16: 312}\n"
    "intra_node_bandwidth_gb_s: 300\n";

TEST(Hardware, PresetsMatchTheirDatasheets) {
  const Hardware a100 = find_hardware("a100-80g");
  EXPECT_EQ(a100.memory_bytes, int64_t{80} << 30);
  EXPECT_DOUBLE_EQ(a100.memory_bandwidth, 2039e9);
  EXPECT_DOUBLE_EQ(a100.flops_for(NumberFormat::bf16), 312e12);
  EXPECT_EQ(find_hardware("h200").memory_bytes, int64_t{141'000'000'000});
  EXPECT_EQ(find_hardware("a100-40g").memory_bytes, int64_t{40} << 30);
  EXPECT_TRUE(find_hardware("cpu").cpu);
  EXPECT_DOUBLE_EQ(find_hardware("h100-80g").memory_bandwidth, 3350e9);
}

TEST(Hardware, SizesTakeUnits) {
  EXPECT_EQ(parse_size("80GiB", "x"), int64_t{80} << 30);
  EXPECT_EQ(parse_size("141 GB", "x"), int64_t{141'000'000'000});
  EXPECT_EQ(parse_size("512M", "x"), int64_t{512} << 20);
  EXPECT_EQ(parse_size("1e9", "x"), 1'000'000'000);
  EXPECT_THROW(parse_size("-5GB", "x"), Error);
  EXPECT_THROW(parse_size("lots", "x"), Error);
  EXPECT_THROW(parse_size("5 parsecs", "x"), Error);
}

TEST(Hardware, BadFilesNameTheKey) {
  EXPECT_NO_THROW(read_hardware(write_yaml("good", kGood)));
  expect_error(kGood + "memroy: 4GiB\n", "unknown key 'memroy'");
  expect_error("kind: gpu\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\nintra_node_bandwidth_gb_s: 1\n",
               "missing required key 'memory'");
  expect_error("kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: -3\nflops_tflops: {bf16: 1}\n",
               "memory_bandwidth_gb_s must be positive");
  expect_error("kind: tpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\n",
               "kind must be gpu or cpu");
  expect_error("kind: gpu\nmemory: 80GiB\nmemory_bandwidth_gb_s: 1\nflops_tflops: {fp8: 1}\n", "flops_tflops key");
  expect_error("kind: gpu\nmemory: eighty\nmemory_bandwidth_gb_s: 1\nflops_tflops: {bf16: 1}\n", "memory");
  expect_error("kind: [gpu\n", "not valid YAML");
  EXPECT_THROW(find_hardware("tpu-v9"), Error);
}

TEST(Hardware, CpuFiguresFollowTheThreadCount) {
  const Hardware cpu = read_hardware(
      write_yaml("cpu",
                 "kind: cpu\nmemory: 16GiB\nmemory_bandwidth_gb_s: 20\nbandwidth_by_threads_gb_s: {1: 12, 4: 20}\n"
                 "flops_tflops: {f32: 0.2}\nthreads: 4\n"));
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(1), 12e9);
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(3), 12e9);  // not measured: the nearest count below
  EXPECT_DOUBLE_EQ(cpu.bandwidth_for(8), 20e9);
}

TEST(Hardware, WrittenFilesReadBack) {
  Hardware h = find_hardware("a100-80g");
  const Hardware back = read_hardware(write_yaml("roundtrip", hardware_yaml(h, "test")));
  EXPECT_EQ(back.memory_bytes, h.memory_bytes);
  EXPECT_NEAR(back.memory_bandwidth, h.memory_bandwidth, 1e7);
  EXPECT_NEAR(back.flops_for(NumberFormat::bf16), h.flops_for(NumberFormat::bf16), 1e9);
}

}  // namespace
}  // namespace shardlm::plan
