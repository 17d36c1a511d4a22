// What a checkpoint stores, as stored: tensor names, types, shapes and bytes, for `shardlm inspect`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace shardlm {

struct StoredTensor {
  std::string name;
  std::string type;  // "F32", "BF16", "Q4_1", ...
  std::vector<int64_t> shape;
  size_t bytes;
  int64_t elements() const;
};

struct CheckpointContents {
  std::string format;  // "safetensors", "gguf v3", "llama2.c"
  std::vector<StoredTensor> tensors;
};

CheckpointContents read_checkpoint_contents(const std::string& path);

}  // namespace shardlm
