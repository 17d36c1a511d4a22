// launch/gpu-check.sh's plumbing, here where there is no GPU: a stand-in nvidia-smi, a bundle of
// stand-in binaries (one suite fails, one step outlasts its limit) and a library tree laid out as the
// GPU machine's CUDA 13 wheels are (site-packages/nvidia/cu13/lib, nvidia/nccl/lib). The script must
// find cuBLAS and NCCL there, run every step whatever the ones before did, and end with one report
// that says which failed and how.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kScript = std::string(SHARDLM_SOURCE_DIR) + "/launch/gpu-check.sh";

void write_program(const std::string& path, const std::string& body) {
  write_file(path, "#!/bin/sh\n" + body);
  ::chmod(path.c_str(), 0755);
}

// A fresh folder under this process's temporary directory.
std::string fresh_dir(const std::string& name) {
  const std::string dir = temp_dir() + "/" + name;
  std::filesystem::create_directories(dir);
  return dir;
}

// The wheels' layout: cuBLAS in nvidia/cu13/lib, NCCL in a package of its own.
std::string wheel_tree(const std::string& dir) {
  const std::string site = dir + "/site-packages";
  std::filesystem::create_directories(site + "/nvidia/cu13/lib");
  std::filesystem::create_directories(site + "/nvidia/nccl/lib");
  for (const char* library : {"libcublas.so.13", "libcublasLt.so.13"}) write_file(site + "/nvidia/cu13/lib/" + library, "");
  write_file(site + "/nvidia/nccl/lib/libnccl.so.2", "");
  return site;
}

CliResult run_script(const std::vector<std::string>& environment, const std::string& argument = "") {
  std::vector<std::string> argv = {"/usr/bin/env"};
  argv.insert(argv.end(), environment.begin(), environment.end());
  argv.push_back(kScript);
  if (!argument.empty()) argv.push_back(argument);
  return run_program(argv);
}

TEST(GpuCheckScript, DryRunFindsTheWheelsLibrariesAndKeepsItsBudget) {
  const std::string dir = fresh_dir("gpu-check-dry-run");
  const std::string site = wheel_tree(dir);
  const CliResult run = run_script({"SHARDLM_GPU_SITE_PACKAGES=" + site, "SHARDLM_GPU_CUDA_HOME=" + dir + "/no-cuda",
                                    "SHARDLM_GPU_BUNDLE=" + dir + "/no-bundle"},
                                   "--dry-run");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("cuBLAS " + site + "/nvidia/cu13/lib\n"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("NCCL " + site + "/nvidia/nccl/lib\n"), std::string::npos) << run.out;
  for (const char* step : {"cuda_tests", "golden_gpu", "memcheck", "racecheck", "generate", "gpu_bench"})
    EXPECT_NE(run.out.find(step), std::string::npos) << step;
  EXPECT_NE(run.out.find("(limit 480)"), std::string::npos) << run.out;

  // Nothing under the site-packages or the toolkit: said per library.
  const CliResult bare = run_script({"SHARDLM_GPU_SITE_PACKAGES=" + dir + "/empty", "SHARDLM_GPU_CUDA_HOME=" + dir + "/no-cuda",
                                     "SHARDLM_GPU_BUNDLE=" + dir + "/no-bundle"},
                                    "--dry-run");
  EXPECT_NE(bare.out.find("cuBLAS not-found"), std::string::npos) << bare.out;
  EXPECT_NE(bare.out.find("NCCL not-found"), std::string::npos) << bare.out;
}

TEST(GpuCheckScript, EveryStepRunsAndTheReportSaysWhichFailed) {
  const std::string dir = fresh_dir("gpu-check-run");
  const std::string site = wheel_tree(dir), bin = dir + "/bundle/bin", path = dir + "/path", out = dir + "/out";
  std::filesystem::create_directories(bin);
  std::filesystem::create_directories(dir + "/bundle/lib");
  std::filesystem::create_directories(path);
  write_program(path + "/nvidia-smi", "echo 'NVIDIA H100 80GB HBM3, 81559 MiB, 580.65'\n");
  write_program(bin + "/shardlm_unit_tests",
                "echo '[ RUN      ] CudaOpsTest.Matmul'\necho 'cuda_ops_test.cpp:10: Failure'\nexit 1\n");
  write_program(bin + "/shardlm_golden_tests", "echo '[  PASSED  ] 4 tests.'\n");
  write_program(bin + "/shardlm",
                "case \"$*\" in *cuda*) echo 'Once upon a time there was a dog';; *) echo 'Once upon a time there "
                "was a cat';; esac\n");
  write_program(bin + "/shardlm_gpu_bench", "echo 'memory bandwidth: nominal 3352 GB/s'\nsleep 60\n");
  write_file(dir + "/bundle/built-in", std::string(SHARDLM_SOURCE_DIR));

  const CliResult run = run_script({"PATH=" + path + ":/usr/bin:/bin", "OUT=" + out, "SHARDLM_GPU_BUNDLE=" + dir + "/bundle",
                                    "SHARDLM_GPU_SITE_PACKAGES=" + site, "SHARDLM_GPU_CUDA_HOME=" + dir + "/no-cuda",
                                    "SHARDLM_GPU_STEP_SECONDS=3"});
  EXPECT_EQ(run.exit_code, 1) << run.out << run.err;
  const nlohmann::json report = nlohmann::json::parse(read_file(out + "/gpu-report.json"));
  EXPECT_EQ(report["gpu"], "NVIDIA H100 80GB HBM3, 81559 MiB, 580.65");
  EXPECT_NE(report["library_path"].get<std::string>().find(site + "/nvidia/cu13/lib"), std::string::npos);
  EXPECT_FALSE(report["passed"].get<bool>());
  const auto& steps = report["steps"];
  ASSERT_EQ(steps.size(), 6u) << report.dump(2);
  auto step = [&](size_t i, const char* name, const char* status) {
    EXPECT_EQ(steps[i]["name"], name);
    EXPECT_EQ(steps[i]["status"], status) << name;
    return steps[i]["first_failure"].get<std::string>();
  };
  EXPECT_EQ(step(0, "cuda_tests", "FAILED"), "cuda_ops_test.cpp:10: Failure");
  EXPECT_EQ(step(1, "golden_gpu", "passed"), "");
  EXPECT_EQ(step(2, "memcheck", "skipped"), "no compute-sanitizer on this machine");
  EXPECT_EQ(step(3, "racecheck", "skipped"), "no compute-sanitizer on this machine");
  step(4, "generate", "passed");
  EXPECT_NE(steps[4]["log_tail"].dump().find("texts part at word 7 of 8"), std::string::npos) << steps[4].dump();
  EXPECT_EQ(step(5, "gpu_bench", "FAILED"), "timed out after 3 s");
  EXPECT_NE(read_file(out + "/gpu-report.md").find("| cuda_tests | FAILED |"), std::string::npos);
}

}  // namespace
}  // namespace shardlm::testing
