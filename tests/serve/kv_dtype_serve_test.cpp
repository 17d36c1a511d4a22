// `shardlm serve` with a bf16 KV cache from the deploy file's kv_dtype key: ModelInfo reports the
// dtype and bf16's bytes (and the blocks they buy), and a client gets what `shardlm generate
// --kv-dtype bf16` prints.
#include <gtest/gtest.h>

#include <string>

#include "tests/serve/server_process.h"

namespace shardlm::testing {
namespace {

namespace v1 = shardlm::v1;

TEST(ServeKvDtype, DeployFileBf16CacheIsReportedAndUsed) {
  const std::string deploy = temp_dir() + "/bf16_kv.yaml";
  write_file(deploy, "model: " + kStories + "\nkv_dtype: bf16\nkv_cache_memory: 1M\nthreads: 1\n");
  ServerProcess server({"--config", deploy});
  rpc::InferenceClient client = server.client();
  v1::ModelInfoResponse info;
  ASSERT_TRUE(client.model_info(info).ok());
  EXPECT_EQ(info.kv_cache().dtype(), "bf16");
  // stories260K: 2 (K, V) x 5 layers x 4 KV heads x 8 dims x 2 bytes = 640 bytes a token; 1 MiB holds
  // 102 whole blocks of 16 tokens (10,240 bytes each).
  EXPECT_EQ(info.kv_cache().bytes_per_token_per_rank(), 640);
  EXPECT_EQ(info.kv_cache().num_blocks(), 102);

  const std::string prompt = "Once upon a time";
  const CliResult offline = run_cli({"generate", "--model", kStories, "--prompt", prompt, "--max-new-tokens", "40",
                                     "--temperature", "0", "--kv-dtype", "bf16"});
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  const CliResult served = run_cli({"client", "--addr", server.address(), "--prompt", prompt, "--max-new-tokens", "40"});
  ASSERT_EQ(served.exit_code, 0) << served.err;
  EXPECT_EQ(served.out, offline.out);
}

}  // namespace
}  // namespace shardlm::testing
