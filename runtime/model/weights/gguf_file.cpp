#include "runtime/model/weights/gguf_file.h"

#include <cstring>
#include <fmt/format.h>

#include "runtime/core/check.h"

namespace shardlm {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr uint64_t kMaxCount = 1ull << 32;  // no real file has more keys, tensors or array items

enum ValueType : uint32_t {
  u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7, string = 8, array = 9, u64 = 10, i64 = 11,
  f64 = 12,
};

class HeaderReader {
 public:
  explicit HeaderReader(const MappedFile& file) : file_(file), reader_(file) {}
  template <typename T>
  T read(const char* what) { return reader_.read<T>(what); }
  size_t offset() const { return reader_.offset(); }

  std::string read_string(const char* what) {
    const auto length = reader_.read<uint64_t>(what);
    SHARDLM_CHECK(length <= reader_.remaining(), "'{}': {} claims {} bytes, only {} remain", file_.path(), what, length,
                  reader_.remaining());
    const uint8_t* bytes = reader_.take(length, what);
    return std::string(reinterpret_cast<const char*>(bytes), length);
  }

  GgufValue::Scalar read_scalar(uint32_t type, const std::string& key) {
    switch (type) {
      case u8: return int64_t{read<uint8_t>("a u8 value")};
      case i8: return int64_t{read<int8_t>("an i8 value")};
      case u16: return int64_t{read<uint16_t>("a u16 value")};
      case i16: return int64_t{read<int16_t>("an i16 value")};
      case u32: return int64_t{read<uint32_t>("a u32 value")};
      case i32: return int64_t{read<int32_t>("an i32 value")};
      case u64: return read<uint64_t>("a u64 value");
      case i64: return read<int64_t>("an i64 value");
      case f32: return double{read<float>("an f32 value")};
      case f64: return read<double>("an f64 value");
      case boolean: return read<uint8_t>("a bool value") != 0;
      case string: return read_string("a string value");
      default: SHARDLM_FAIL("'{}': metadata '{}' has unknown value type {}", file_.path(), key, type);
    }
  }

  GgufValue read_value(uint32_t type, const std::string& key) {
    GgufValue value;
    if (type != array) {
      value.scalar = read_scalar(type, key);
      return value;
    }
    value.is_array = true;
    const auto item_type = read<uint32_t>("an array's item type");
    const auto count = read<uint64_t>("an array's length");
    SHARDLM_CHECK(item_type != array, "'{}': metadata '{}' nests arrays", file_.path(), key);
    // Every item takes at least one byte: a count beyond the bytes left is a lie.
    SHARDLM_CHECK(count <= reader_.remaining() && count < kMaxCount, "'{}': metadata '{}' claims {} items", file_.path(),
                  key, count);
    value.array.reserve(count);
    for (uint64_t i = 0; i < count; ++i) value.array.push_back(read_scalar(item_type, key));
    return value;
  }

 private:
  const MappedFile& file_;
  ByteReader reader_;
};

int64_t as_integer(const GgufValue::Scalar& scalar, const std::string& key, const std::string& path) {
  if (const auto* v = std::get_if<int64_t>(&scalar)) return *v;
  if (const auto* v = std::get_if<uint64_t>(&scalar)) {
    SHARDLM_CHECK(*v <= static_cast<uint64_t>(INT64_MAX), "'{}': {} = {} is too large", path, key, *v);
    return static_cast<int64_t>(*v);
  }
  SHARDLM_FAIL("'{}': metadata '{}' is not an integer", path, key);
}

}  // namespace

size_t ggml_row_bytes(GgmlType type, int64_t elements) {
  switch (type) {
    case GgmlType::f32: return elements * 4;
    case GgmlType::f16:
    case GgmlType::bf16: return elements * 2;
    case GgmlType::q4_0: return elements / 32 * 18;  // f16 scale + 16 bytes of nibbles
    case GgmlType::q4_1: return elements / 32 * 20;  // f16 scale, f16 minimum + 16 bytes of nibbles
    case GgmlType::q8_0: return elements / 32 * 34;  // f16 scale + 32 int8
    case GgmlType::q4_K: return elements / 256 * 144;  // f16 scale and minimum, 12 bytes of sub-scales, 128 of nibbles
    case GgmlType::q6_K: return elements / 256 * 210;  // 128 bytes of low nibbles, 64 of high pairs, 16 scales, f16
  }
  return 0;
}

const char* ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::f32: return "F32";
    case GgmlType::f16: return "F16";
    case GgmlType::bf16: return "BF16";
    case GgmlType::q4_0: return "Q4_0";
    case GgmlType::q4_1: return "Q4_1";
    case GgmlType::q8_0: return "Q8_0";
    case GgmlType::q4_K: return "Q4_K";
    case GgmlType::q6_K: return "Q6_K";
  }
  return "?";
}

bool GgufFile::has_magic(const std::string& path) {
  auto file = MappedFile::open(path);
  uint32_t magic = 0;
  if (file->size() >= 4) std::memcpy(&magic, file->data(), 4);
  return magic == kMagic;
}

GgufFile GgufFile::open(const std::string& path) {
  GgufFile gguf;
  gguf.file_ = MappedFile::open(path);
  HeaderReader reader(*gguf.file_);
  SHARDLM_CHECK(reader.read<uint32_t>("the magic") == kMagic, "'{}' is not a GGUF file", path);
  gguf.version_ = reader.read<uint32_t>("the version");
  SHARDLM_CHECK(gguf.version_ == 2 || gguf.version_ == 3, "'{}': GGUF version {} is not supported (2, 3)", path,
                gguf.version_);
  const auto tensor_count = reader.read<uint64_t>("the tensor count");
  const auto kv_count = reader.read<uint64_t>("the metadata count");
  SHARDLM_CHECK(tensor_count < kMaxCount && kv_count < kMaxCount, "'{}': {} tensors and {} metadata entries is absurd",
                path, tensor_count, kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = reader.read_string("a metadata key");
    const auto type = reader.read<uint32_t>("a metadata type");
    gguf.metadata_[key] = reader.read_value(type, key);
  }

  struct Pending {
    GgufTensor tensor;
    uint64_t offset;
  };
  std::vector<Pending> pending;
  for (uint64_t i = 0; i < tensor_count; ++i) {
    Pending p{{reader.read_string("a tensor name"), GgmlType::f32, {}, nullptr, 0}, 0};
    const auto dims = reader.read<uint32_t>("a tensor's dimension count");
    SHARDLM_CHECK(dims >= 1 && dims <= 4, "'{}': tensor '{}' has {} dimensions", path, p.tensor.name, dims);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < dims; ++d) {
      const auto extent = reader.read<uint64_t>("a tensor extent");
      SHARDLM_CHECK(extent > 0 && extent < (1ull << 40), "'{}': tensor '{}' has extent {}", path, p.tensor.name, extent);
      elements *= extent;
      SHARDLM_CHECK(elements < (1ull << 48), "'{}': tensor '{}' is impossibly large", path, p.tensor.name);
      p.tensor.shape.insert(p.tensor.shape.begin(), static_cast<int64_t>(extent));
    }
    const auto type = reader.read<uint32_t>("a tensor type");
    p.tensor.type = static_cast<GgmlType>(type);
    SHARDLM_CHECK(std::string(ggml_type_name(p.tensor.type)) != "?",
                  "'{}': tensor '{}' has ggml type {}, which ShardLM does not read (F32, F16, BF16, Q4_0, Q4_1, Q8_0, "
                  "Q4_K, Q6_K)",
                  path, p.tensor.name, type);
    const int64_t row = p.tensor.shape.back();
    const bool blocked = p.tensor.type == GgmlType::q4_0 || p.tensor.type == GgmlType::q4_1 || p.tensor.type == GgmlType::q8_0;
    SHARDLM_CHECK(!blocked || row % 32 == 0, "'{}': tensor '{}' rows of {} are not whole 32-value blocks", path,
                  p.tensor.name, row);
    const bool super_blocked = p.tensor.type == GgmlType::q4_K || p.tensor.type == GgmlType::q6_K;
    SHARDLM_CHECK(!super_blocked || row % 256 == 0, "'{}': tensor '{}' rows of {} are not whole 256-value super-blocks",
                  path, p.tensor.name, row);
    p.tensor.bytes = ggml_row_bytes(p.tensor.type, row) * (elements / row);
    p.offset = reader.read<uint64_t>("a tensor offset");
    SHARDLM_CHECK(!gguf.tensors_.contains(p.tensor.name), "'{}': tensor '{}' appears twice", path, p.tensor.name);
    gguf.tensors_[p.tensor.name] = p.tensor;
    pending.push_back(std::move(p));
  }
  const uint64_t alignment = gguf.integer_or("general.alignment", 32);
  // The format asks for a power of two, at least 8: every tensor then starts aligned for its elements.
  SHARDLM_CHECK(alignment >= 8 && alignment <= 65536 && (alignment & (alignment - 1)) == 0,
                "'{}': general.alignment {} is not a power of two from 8 to 65536", path, alignment);
  const uint64_t data_start = (reader.offset() + alignment - 1) / alignment * alignment;
  for (const Pending& p : pending) {
    SHARDLM_CHECK(p.offset % alignment == 0, "'{}': tensor '{}' starts at data offset {}, not a multiple of the alignment {}",
                  path, p.tensor.name, p.offset, alignment);
    const uint64_t begin = data_start + p.offset;
    SHARDLM_CHECK(begin >= data_start && begin <= gguf.file_->size() && p.tensor.bytes <= gguf.file_->size() - begin,
                  "'{}': tensor '{}' ({} bytes at data offset {}) runs past the end of the file ({} bytes){}", path,
                  p.tensor.name, p.tensor.bytes, p.offset, gguf.file_->size(), " (truncated?)");
    gguf.tensors_[p.tensor.name].data = gguf.file_->data() + begin;
  }
  return gguf;
}

const GgufValue& GgufFile::value(const std::string& key) const {
  const auto found = metadata_.find(key);
  SHARDLM_CHECK(found != metadata_.end(), "'{}' has no metadata '{}'", path(), key);
  return found->second;
}

int64_t GgufFile::integer(const std::string& key) const {
  const GgufValue& v = value(key);
  SHARDLM_CHECK(!v.is_array, "'{}': metadata '{}' is an array, expected an integer", path(), key);
  return as_integer(v.scalar, key, path());
}

int64_t GgufFile::integer_or(const std::string& key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }

double GgufFile::number_or(const std::string& key, double fallback) const {
  if (!has(key)) return fallback;
  const GgufValue& v = value(key);
  if (const auto* d = std::get_if<double>(&v.scalar); d != nullptr && !v.is_array) return *d;
  return static_cast<double>(integer(key));
}

std::string GgufFile::string(const std::string& key) const {
  const GgufValue& v = value(key);
  const auto* s = std::get_if<std::string>(&v.scalar);
  SHARDLM_CHECK(s != nullptr && !v.is_array, "'{}': metadata '{}' is not a string", path(), key);
  return *s;
}

std::string GgufFile::string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? string(key) : fallback;
}

std::vector<std::string> GgufFile::strings(const std::string& key) const {
  const GgufValue& v = value(key);
  SHARDLM_CHECK(v.is_array, "'{}': metadata '{}' is not an array", path(), key);
  std::vector<std::string> result;
  for (const auto& item : v.array) {
    const auto* s = std::get_if<std::string>(&item);
    SHARDLM_CHECK(s != nullptr, "'{}': metadata '{}' holds a non-string", path(), key);
    result.push_back(*s);
  }
  return result;
}

std::vector<int64_t> GgufFile::integers(const std::string& key) const {
  const GgufValue& v = value(key);
  SHARDLM_CHECK(v.is_array, "'{}': metadata '{}' is not an array", path(), key);
  std::vector<int64_t> result;
  for (const auto& item : v.array) result.push_back(as_integer(item, key, path()));
  return result;
}

const GgufTensor& GgufFile::tensor(const std::string& name) const {
  const auto found = tensors_.find(name);
  SHARDLM_CHECK(found != tensors_.end(), "'{}' has no tensor '{}'", path(), name);
  return found->second;
}

}  // namespace shardlm
