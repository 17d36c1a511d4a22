// --device end to end: unknown devices are refused naming the flag; --device cuda either runs and
// gives the CPU's greedy text (where a GPU is present) or fails at once in one line saying why (a
// machine without a GPU, a build without CUDA); what the GPU path does not do yet is refused clearly.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/backend/cuda/cuda_backend.h"
#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kModel = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";

std::vector<std::string> generate_args(std::vector<std::string> extra) {
  std::vector<std::string> args = {"generate", "--model", kModel, "--prompt", "Once upon a time",
                                   "--max-new-tokens", "30", "--temperature", "0", "--threads", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

void expect_one_line_error(const CliResult& run, const std::vector<std::string>& mentions) {
  EXPECT_EQ(run.signal, 0) << run.err;
  EXPECT_EQ(run.exit_code, 1) << run.err;
  EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
  EXPECT_EQ(run.err.find('\n'), run.err.size() - 1) << "expected exactly one line:\n" << run.err;
  for (const std::string& text : mentions) EXPECT_NE(run.err.find(text), std::string::npos) << text << ": " << run.err;
  EXPECT_TRUE(run.out.empty()) << run.out;
}

TEST(DeviceCli, UnknownDevicesAreRefusedNamingTheFlag) {
  for (const std::string value : {"gpu", "CUDA", "cuda:0", ""})
    expect_one_line_error(run_cli(generate_args({"--device", value})), {"--device", "'" + value + "'"});
}

TEST(DeviceCli, CudaRunsAsTheCpuDoesOrSaysWhyNot) {
  const CliResult gpu = run_cli(generate_args({"--device", "cuda"}));
  const CudaStatus status = cuda_status();
  if (status.device_count == 0) {
    // No GPU here (or no CUDA in the build): refused before loading anything, saying so.
    expect_one_line_error(gpu, {"--device cuda", status.built ? "no usable GPU" : "without CUDA"});
    return;
  }
  const CliResult cpu = run_cli(generate_args({}));
  ASSERT_EQ(cpu.exit_code, 0) << cpu.err;
  ASSERT_EQ(gpu.exit_code, 0) << gpu.err;
  EXPECT_EQ(gpu.out, cpu.out);
  EXPECT_NE(gpu.err.find("cuda:0 memory: peak"), std::string::npos) << "no GPU memory statistics: " << gpu.err;
}

TEST(DeviceCli, WhatTheGpuPathDoesNotDoYetIsRefused) {
  expect_one_line_error(run_cli(generate_args({"--device", "cuda", "--kv-dtype", "int8"})), {"--device cuda", "q8_0"});
}

}  // namespace
}  // namespace shardlm::testing
