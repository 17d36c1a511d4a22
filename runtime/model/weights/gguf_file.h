// GGUF files (versions 2 and 3), as llama.cpp writes them: a header of typed key/value metadata,
// tensor descriptions, then aligned tensor data. Every length, count and offset is checked against
// the file before use, so a hostile file gives an error naming what is wrong, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "runtime/core/mapped_file.h"

namespace shardlm {

// A metadata value: a scalar, a string, or an array of either.
struct GgufValue {
  using Scalar = std::variant<int64_t, uint64_t, double, bool, std::string>;
  Scalar scalar;
  std::vector<Scalar> array;
  bool is_array = false;
};

// ggml tensor types that ShardLM reads.
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, q4_K = 12, q6_K = 14, bf16 = 30 };

struct GgufTensor {
  std::string name;
  GgmlType type;
  std::vector<int64_t> shape;  // outermost first (GGUF lists the innermost first; reversed here)
  const uint8_t* data;
  size_t bytes;
};

class GgufFile {
 public:
  static GgufFile open(const std::string& path);
  // True when the file starts with GGUF's magic: how formats are told apart.
  static bool has_magic(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  bool has(const std::string& key) const { return metadata_.contains(key); }
  const GgufValue& value(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  int64_t integer_or(const std::string& key, int64_t fallback) const;
  double number_or(const std::string& key, double fallback) const;
  std::string string(const std::string& key) const;
  std::string string_or(const std::string& key, const std::string& fallback) const;
  std::vector<std::string> strings(const std::string& key) const;
  std::vector<int64_t> integers(const std::string& key) const;

  const std::map<std::string, GgufTensor>& tensors() const { return tensors_; }
  bool has_tensor(const std::string& name) const { return tensors_.contains(name); }
  const GgufTensor& tensor(const std::string& name) const;
  std::shared_ptr<MappedFile> mapping() const { return file_; }

 private:
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::map<std::string, GgufTensor> tensors_;
};

// Bytes one row of `elements` values takes in a ggml type (block formats hold 32 values a block).
size_t ggml_row_bytes(GgmlType type, int64_t elements);
const char* ggml_type_name(GgmlType type);

}  // namespace shardlm
