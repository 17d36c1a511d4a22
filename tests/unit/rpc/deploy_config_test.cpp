// The deploy files: every key the server knows is documented in configs/deploy/README.md, every
// bundled file reads, and flags given on the command line replace the file's.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rpc/server/deploy_config.h"

namespace shardlm::rpc {
namespace {

const std::string kDeployDir = std::string(SHARDLM_TEST_DATA) + "/../../configs/deploy";

TEST(DeployConfig, EveryKeyIsDocumented) {
  std::ifstream in(kDeployDir + "/README.md");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  for (const DeployKey& key : deploy_keys())
    EXPECT_NE(text.str().find(std::string("| `") + key.name + "` |"), std::string::npos) << key.name;
}

TEST(DeployConfig, BundledFilesRead) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kDeployDir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    const auto flags = deploy_file_as_flags(entry.path().string());
    ASSERT_FALSE(flags.empty()) << entry.path();
    EXPECT_EQ(flags[0], "--model") << entry.path();
  }
  EXPECT_GE(files, 3);
}

TEST(DeployConfig, CommandLineFlagsWin) {
  const std::vector<std::string> merged =
      merge_deploy_flags({"--model", "a.gguf", "--max-batch", "3", "--pp-layers", "2,3"}, {"--max-batch", "5"});
  EXPECT_EQ(merged, (std::vector<std::string>{"--model", "a.gguf", "--pp-layers", "2,3", "--max-batch", "5"}));
  EXPECT_EQ(flag_of_key("rank_timeout_seconds"), "rank-timeout-seconds");
}

}  // namespace
}  // namespace shardlm::rpc
