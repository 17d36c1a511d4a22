// The deploy file of `shardlm serve` (YAML): keys, types and values turned into flags.
#include "rpc/server/deploy_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace shardlm;
  return fuzz::accept_clear_errors([&] { (void)rpc::deploy_file_as_flags(fuzz::input_file(data, size, "deploy.yaml")); });
}
