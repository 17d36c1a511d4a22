// safetensors checkpoints, single-file or sharded with model.safetensors.index.json. Files are
// memory-mapped and every header is validated before a tensor is handed out: a length bound,
// offsets inside the file, no two tensors overlapping, a known dtype, and shape x dtype = bytes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/mapped_file.h"
#include "runtime/core/tensor.h"

namespace shardlm {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  size_t offset;  // from the start of the file
  size_t bytes;
  std::shared_ptr<MappedFile> file;
};

class SafetensorsCheckpoint {
 public:
  // `path` is a .safetensors file, or a directory holding model.safetensors.index.json (sharded) or a
  // single *.safetensors file. Throws naming the file and tensor at fault.
  static SafetensorsCheckpoint open(const std::string& path);

  bool contains(const std::string& name) const { return entries_.contains(name); }
  const SafetensorsEntry& entry(const std::string& name) const;
  // A tensor viewing the mapped bytes (no copy), in the checkpoint's own dtype.
  Tensor tensor(const std::string& name) const;
  std::vector<std::string> names() const;
  size_t total_bytes() const;

  // Parses one file's header; exposed for tests of hostile headers.
  static std::vector<SafetensorsEntry> read_header(const std::shared_ptr<MappedFile>& file);

 private:
  std::map<std::string, SafetensorsEntry> entries_;
};

}  // namespace shardlm
