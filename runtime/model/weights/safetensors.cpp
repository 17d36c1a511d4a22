#include "runtime/model/weights/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"

namespace shardlm {
namespace {

// A header is JSON describing tensors; 100 MB is far beyond any real one (a 176B model's is ~100 kB)
// and keeps a hostile length field from asking for terabytes.
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

DType parse_safetensors_dtype(const std::string& name, const std::string& file, const std::string& tensor) {
  if (name == "F32") return DType::f32;
  if (name == "F16") return DType::f16;
  if (name == "BF16") return DType::bf16;
  SHARDLM_FAIL("'{}': tensor '{}' has dtype {}, which ShardLM does not load (F32, F16, BF16)", file, tensor, name);
}

}  // namespace

std::vector<SafetensorsEntry> SafetensorsCheckpoint::read_header(const std::shared_ptr<MappedFile>& file) {
  const std::string& path = file->path();
  ByteReader reader(*file);
  const uint64_t header_bytes = reader.read<uint64_t>("the header length");
  SHARDLM_CHECK(header_bytes <= kMaxHeaderBytes && header_bytes <= reader.remaining(),
                "'{}': header length {} is larger than {}", path, header_bytes,
                std::min<uint64_t>(kMaxHeaderBytes, reader.remaining()));
  const char* text = reinterpret_cast<const char*>(reader.take(header_bytes, "the header"));
  nlohmann::json header = nlohmann::json::parse(text, text + header_bytes, nullptr, /*allow_exceptions=*/false);
  SHARDLM_CHECK(header.is_object(), "'{}': the header is not a JSON object", path);
  const size_t data_start = 8 + header_bytes, data_bytes = file->size() - data_start;

  std::vector<SafetensorsEntry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    SHARDLM_CHECK(info.is_object() && info.contains("dtype") && info["dtype"].is_string() && info.contains("shape") &&
                      info["shape"].is_array() && info.contains("data_offsets") && info["data_offsets"].is_array() &&
                      info["data_offsets"].size() == 2,
                  "'{}': tensor '{}' needs dtype, shape and data_offsets [begin, end]", path, name);
    SafetensorsEntry entry{name, parse_safetensors_dtype(info["dtype"], path, name), {}, 0, 0, file};
    uint64_t elements = 1;
    for (const auto& extent : info["shape"]) {
      SHARDLM_CHECK(extent.is_number_unsigned() && extent.get<uint64_t>() < (1ull << 40),
                    "'{}': tensor '{}' has a bad shape entry {}", path, name, extent.dump());
      entry.shape.push_back(extent.get<int64_t>());
      elements *= extent.get<uint64_t>();
      SHARDLM_CHECK(elements < (1ull << 48), "'{}': tensor '{}' is impossibly large", path, name);
    }
    const auto& offsets = info["data_offsets"];
    SHARDLM_CHECK(offsets[0].is_number_unsigned() && offsets[1].is_number_unsigned(),
                  "'{}': tensor '{}' has non-numeric data_offsets", path, name);
    const uint64_t begin = offsets[0], end = offsets[1];
    SHARDLM_CHECK(begin <= end && end <= data_bytes, "'{}': tensor '{}' spans bytes {}..{}, outside the {} data bytes",
                  path, name, begin, end, data_bytes);
    SHARDLM_CHECK(end - begin == elements * dtype_size(entry.dtype),
                  "'{}': tensor '{}' has {} bytes but its shape and dtype need {}", path, name, end - begin,
                  elements * dtype_size(entry.dtype));
    entry.offset = data_start + begin;
    entry.bytes = end - begin;
    entries.push_back(std::move(entry));
  }
  std::vector<const SafetensorsEntry*> by_offset;
  for (const auto& entry : entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const auto* previous = by_offset[i - 1];
    SHARDLM_CHECK(previous->offset + previous->bytes <= by_offset[i]->offset, "'{}': tensors '{}' and '{}' overlap",
                  path, previous->name, by_offset[i]->name);
  }
  return entries;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  namespace fs = std::filesystem;
  SHARDLM_CHECK(fs::exists(path), "checkpoint '{}' does not exist", path);
  std::vector<std::string> files;
  if (!fs::is_directory(path)) {
    files.push_back(path);
  } else if (const fs::path index = fs::path(path) / "model.safetensors.index.json"; fs::exists(index)) {
    std::ifstream in(index);
    const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    SHARDLM_CHECK(json.is_object() && json.contains("weight_map") && json["weight_map"].is_object(),
                  "'{}' has no weight_map object", index.string());
    for (const auto& [tensor, file] : json["weight_map"].items()) {
      SHARDLM_CHECK(file.is_string(), "'{}': tensor '{}' maps to a non-string", index.string(), tensor);
      const std::string shard = (fs::path(path) / file.get<std::string>()).string();
      if (std::find(files.begin(), files.end(), shard) == files.end()) files.push_back(shard);
    }
  } else {
    for (const auto& item : fs::directory_iterator(path))
      if (item.path().extension() == ".safetensors") files.push_back(item.path().string());
    SHARDLM_CHECK(files.size() == 1, "'{}' holds {} .safetensors files and no model.safetensors.index.json", path,
                  files.size());
  }
  SafetensorsCheckpoint checkpoint;
  for (const std::string& file : files) {
    SHARDLM_CHECK(fs::exists(file), "checkpoint shard '{}' does not exist", file);
    for (auto& entry : read_header(MappedFile::open(file))) {
      SHARDLM_CHECK(!checkpoint.entries_.contains(entry.name), "tensor '{}' appears in two shards", entry.name);
      checkpoint.entries_.emplace(entry.name, std::move(entry));
    }
  }
  return checkpoint;
}

const SafetensorsEntry& SafetensorsCheckpoint::entry(const std::string& name) const {
  const auto found = entries_.find(name);
  SHARDLM_CHECK(found != entries_.end(), "the checkpoint has no tensor '{}'", name);
  return found->second;
}

Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const uint8_t* data = e.file->data() + e.offset;
  // A view needs its elements aligned. Where the data starts depends on the header's length, which
  // not every writer pads to 8 bytes: a misaligned tensor is copied to aligned memory instead.
  if (reinterpret_cast<uintptr_t>(data) % dtype_size(e.dtype) == 0) return Tensor::view(e.shape, e.dtype, data, e.file);
  Tensor copy = cpu_backend().empty(e.shape, e.dtype);
  std::memcpy(copy.data(), data, e.bytes);
  return copy;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> result;
  for (const auto& [name, entry] : entries_) result.push_back(name);
  return result;
}

size_t SafetensorsCheckpoint::total_bytes() const {
  size_t total = 0;
  for (const auto& [name, entry] : entries_) total += entry.bytes;
  return total;
}

}  // namespace shardlm
