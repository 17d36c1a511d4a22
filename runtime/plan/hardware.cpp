#include "runtime/plan/hardware.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <set>

#include "runtime/core/check.h"

namespace shardlm::plan {
namespace {

constexpr double kGB = 1e9;

// The keys a hardware file may hold: a typo must not silently fall back to a default.
const std::set<std::string> kKeys = {"name",
                                     "kind",
                                     "memory",
                                     "runtime_overhead",
                                     "rank_overhead",
                                     "memory_bandwidth_gb_s",
                                     "bandwidth_by_threads_gb_s",
                                     "bandwidth_by_matrix_gb_s",
                                     "cache_bandwidth_by_matrix_gb_s",
                                     "cache",
                                     "cache_bandwidth_by_threads_gb_s",
                                     "flops_tflops",
                                     "step_overhead_us",
                                     "step_overhead_us_by_threads",
                                     "pass_overhead_us_by_threads",
                                     "devices_per_node",
                                     "threads",
                                     "intra_node_bandwidth_gb_s",
                                     "inter_node_bandwidth_gb_s",
                                     "link_latency_us",
                                     "attention_ns_per_key",
                                     "kernel_gb_s",
                                     "kernel_streamed_gb_s",
                                     "kernel_streamed_long_rows_gb_s"};

double positive_number(const YAML::Node& node, const std::string& key, const std::string& path, bool allow_zero) {
  double value = 0;
  try {
    value = node.as<double>();
  } catch (const YAML::Exception&) {
    SHARDLM_FAIL("'{}': {} must be a number, got '{}'", path, key, node.IsScalar() ? node.Scalar() : "a list or map");
  }
  SHARDLM_CHECK(std::isfinite(value) && (allow_zero ? value >= 0 : value > 0), "'{}': {} must be {}, got {}", path, key,
                allow_zero ? "zero or more" : "positive", value);
  return value;
}

// A map key that must be a positive integer (a thread count, a head dim); `what` names it in the error.
int64_t positive_key(const std::string& text, const std::string& key, const std::string& path, const char* what) {
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  SHARDLM_CHECK(!text.empty() && *end == '\0' && value > 0, "'{}': {} has a key '{}' that is not {}", path, key, text,
                what);
  return value;
}

// The entry for the largest measured thread count not above `threads` (more threads than measured
// gain nothing), or the smallest measured when all are above it.
template <typename Value>
const Value& at_threads(const std::map<int, Value>& table, int threads) {
  auto at = table.upper_bound(threads);
  if (at == table.begin()) return at->second;
  return std::prev(at)->second;
}

// "256KiB", "1MiB", or plain bytes: what parse_size reads back exactly.
std::string size_text(int64_t bytes) {
  if (bytes > 0 && bytes % (1 << 20) == 0) return fmt::format("{}MiB", bytes >> 20);
  if (bytes > 0 && bytes % (1 << 10) == 0) return fmt::format("{}KiB", bytes >> 10);
  return fmt::format("{}B", bytes);
}

}  // namespace

double Hardware::kernel_rate_for(DType dtype, int thread_count, bool streamed, int64_t row_inputs) const {
  const auto& table = streamed ? kernel_streamed_rate : kernel_rate;
  // A file from before Q4_0 had kernels of its own (and a probe of them): q4_1's rate, in 18 bytes a
  // block rather than 20.
  if (dtype == DType::q4_0 && table.count(dtype) == 0)
    return kernel_rate_for(DType::q4_1, thread_count, streamed, row_inputs) * 18 / 20;
  const auto found = table.find(dtype);
  if (found == table.end() || found->second.empty()) return std::numeric_limits<double>::infinity();
  const double short_rate = at_threads(found->second, thread_count);
  const auto long_found = kernel_streamed_long_rate.find(dtype);
  const bool whole_blocks = !is_block_dtype(dtype) || row_inputs % kQuantBlock == 0;
  if (!streamed || row_inputs <= kShortKernelRow || !whole_blocks || long_found == kernel_streamed_long_rate.end() ||
      long_found->second.empty())
    return short_rate;
  // Seconds a row takes = fixed + per input x inputs, through the two measured rows. Where the pair
  // does not give a positive fixed cost and cost per input (noise, or no fixed cost to speak of), the
  // long rows' rate stands for every row longer than the short ones.
  auto row_bytes = [&](int64_t inputs) { return static_cast<double>(dtype_bytes(dtype, inputs)); };
  const double long_rate = at_threads(long_found->second, thread_count);
  const double short_s = row_bytes(kShortKernelRow) / short_rate, long_s = row_bytes(kLongKernelRow) / long_rate;
  const double per_input = (long_s - short_s) / (kLongKernelRow - kShortKernelRow);
  const double fixed = short_s - per_input * kShortKernelRow;
  if (per_input <= 0 || fixed < 0) return long_rate;
  return row_bytes(row_inputs) / (fixed + per_input * static_cast<double>(row_inputs));
}

double Hardware::flops_for(NumberFormat format) const {
  const auto found = flops.find(format);
  SHARDLM_CHECK(found != flops.end(), "hardware '{}' gives no flops_tflops.{}", name, format_name(format));
  return found->second;
}

double Hardware::bandwidth_for(int thread_count, bool cached) const {
  const std::map<int, double>& table =
      cached && !cache_bandwidth_by_threads.empty() ? cache_bandwidth_by_threads : bandwidth_by_threads;
  if (table.empty()) return memory_bandwidth;
  return at_threads(table, thread_count);
}

double Hardware::matrix_bandwidth_for(int thread_count, double matrix_bytes, bool cached) const {
  const auto& table = cached ? cache_bandwidth_by_matrix : bandwidth_by_matrix;
  if (table.empty()) return bandwidth_for(thread_count, cached);
  const std::map<int64_t, double>& sizes = at_threads(table, thread_count);
  // Beyond the measured sizes the rate stays at the nearest one's: the smallest already pays the
  // fixed costs in full, the largest already streams at the memory's rate.
  if (matrix_bytes <= static_cast<double>(sizes.begin()->first)) return sizes.begin()->second;
  if (matrix_bytes >= static_cast<double>(sizes.rbegin()->first)) return sizes.rbegin()->second;
  const auto above = sizes.upper_bound(static_cast<int64_t>(matrix_bytes));
  const auto below = std::prev(above);
  // Matrix sizes span orders of magnitude and the fixed costs shrink relative to the bytes as they
  // grow, so the rate is interpolated in the logarithm of the size.
  const double f = std::log(matrix_bytes / static_cast<double>(below->first)) /
                   std::log(static_cast<double>(above->first) / static_cast<double>(below->first));
  return below->second + f * (above->second - below->second);
}

AttentionKeyCost Hardware::attention_cost_for(int64_t head_dim) const {
  if (attention_by_head_dim.empty()) return {};
  if (head_dim <= attention_by_head_dim.begin()->first) return attention_by_head_dim.begin()->second;
  if (head_dim >= attention_by_head_dim.rbegin()->first) return attention_by_head_dim.rbegin()->second;
  const auto above = attention_by_head_dim.upper_bound(head_dim);
  const auto below = std::prev(above);
  const double f = static_cast<double>(head_dim - below->first) / static_cast<double>(above->first - below->first);
  return {below->second.per_kv_head + f * (above->second.per_kv_head - below->second.per_kv_head),
          below->second.per_head + f * (above->second.per_head - below->second.per_head)};
}

double Hardware::pass_overhead_for(int thread_count) const {
  return pass_overhead_by_threads.empty() ? 0.0 : at_threads(pass_overhead_by_threads, thread_count);
}

double Hardware::step_overhead_for(int thread_count) const {
  if (step_overhead_by_threads.empty()) return step_overhead_s;
  return at_threads(step_overhead_by_threads, thread_count);
}

int64_t parse_size(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const double number = std::strtod(text.c_str(), &end);
  std::string unit = end;
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},       {"B", 1},         {"KB", 1e3},        {"MB", 1e6},           {"GB", 1e9},
      {"TB", 1e12},  {"KiB", 1024.0},  {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
      {"K", 1024.0}, {"M", 1048576.0}, {"G", 1073741824.0}};
  for (const auto& [name, scale] : kUnits) {
    if (unit != name) continue;
    SHARDLM_CHECK(end != text.c_str() && std::isfinite(number) && number >= 0 && number * scale < 9.2e18,
                  "{} expects a size such as 80GiB, 141GB or 512MiB, got '{}'", what, text);
    return static_cast<int64_t>(std::llround(number * scale));
  }
  SHARDLM_FAIL(
      "{} expects a size such as 80GiB, 141GB or 512MiB, got '{}' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", what,
      text);
}

std::string config_dir() {
  if (const char* dir = std::getenv("SHARDLM_CONFIG_DIR"); dir != nullptr && *dir != '\0') return dir;
  return SHARDLM_CONFIG_DIR;
}

namespace {

Hardware hardware_from_yaml(const YAML::Node& root, const std::string& path);

}  // namespace

Hardware read_hardware(const std::string& path) {
  SHARDLM_CHECK(std::filesystem::is_regular_file(path), "hardware file '{}' does not exist", path);
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& error) {
    SHARDLM_FAIL("'{}' is not valid YAML: {}", path, error.what());
  }
  SHARDLM_CHECK(root.IsMap(), "'{}' must be a YAML map of hardware keys", path);
  // A value of the wrong shape (a list or map where a name or number belongs) surfaces from yaml-cpp
  // as a conversion error with its line and column.
  try {
    return hardware_from_yaml(root, path);
  } catch (const YAML::Exception& error) {
    SHARDLM_FAIL("'{}': a value is not what its key needs: {}", path, error.what());
  }
}

namespace {

Hardware hardware_from_yaml(const YAML::Node& root, const std::string& path) {
  for (const auto& entry : root) {
    SHARDLM_CHECK(entry.first.IsScalar(), "'{}': every key must be a name (see configs/hardware/README.md)", path);
    const std::string key = entry.first.as<std::string>();
    SHARDLM_CHECK(kKeys.count(key) == 1, "'{}': unknown key '{}' (see configs/hardware/README.md)", path, key);
  }
  auto required = [&](const char* key) {
    SHARDLM_CHECK(root[key].IsDefined() && !root[key].IsNull(), "'{}': missing required key '{}'", path, key);
    return root[key];
  };
  auto size = [&](const char* key, bool must) -> int64_t {
    if (!must && !root[key].IsDefined()) return 0;
    const YAML::Node node = required(key);
    SHARDLM_CHECK(node.IsScalar(), "'{}': {} must be a size such as 80GiB", path, key);
    return parse_size(node.Scalar(), fmt::format("'{}': {}", path, key));
  };
  auto number = [&](const char* key, double fallback, bool allow_zero = true) {
    if (!root[key].IsDefined()) return fallback;
    return positive_number(root[key], key, path, allow_zero);
  };

  Hardware h;
  h.name = root["name"].IsDefined() ? root["name"].as<std::string>() : std::filesystem::path(path).stem().string();
  const std::string kind = required("kind").as<std::string>();
  SHARDLM_CHECK(kind == "gpu" || kind == "cpu", "'{}': kind must be gpu or cpu, got '{}'", path, kind);
  h.cpu = kind == "cpu";
  h.memory_bytes = size("memory", true);
  SHARDLM_CHECK(h.memory_bytes > 0, "'{}': memory must be positive", path);
  h.runtime_overhead_bytes = size("runtime_overhead", false);
  h.rank_overhead_bytes = size("rank_overhead", false);
  h.memory_bandwidth = positive_number(required("memory_bandwidth_gb_s"), "memory_bandwidth_gb_s", path, false) * kGB;
  // Maps from a thread count to a figure, for CPUs where it depends on the threads a rank runs.
  auto by_threads = [&](const char* key, double unit, bool allow_zero) {
    std::map<int, double> values;
    if (!root[key].IsDefined()) return values;
    const YAML::Node map = root[key];
    SHARDLM_CHECK(map.IsMap() && map.size() > 0, "'{}': {} must map thread counts to numbers", path, key);
    for (const auto& entry : map) {
      const std::string threads = entry.first.as<std::string>();
      const auto count = positive_key(threads, key, path, "a thread count");
      values[static_cast<int>(count)] =
          positive_number(entry.second, fmt::format("{}.{}", key, threads), path, allow_zero) * unit;
    }
    return values;
  };
  h.bandwidth_by_threads = by_threads("bandwidth_by_threads_gb_s", kGB, false);
  h.step_overhead_by_threads = by_threads("step_overhead_us_by_threads", 1e-6, true);
  h.pass_overhead_by_threads = by_threads("pass_overhead_us_by_threads", 1e-6, true);
  h.cache_bandwidth_by_threads = by_threads("cache_bandwidth_by_threads_gb_s", kGB, false);
  // Maps from a thread count to maps from a matrix size to GB/s.
  auto by_matrix = [&](const char* key) {
    std::map<int, std::map<int64_t, double>> rates;
    if (!root[key].IsDefined()) return rates;
    const YAML::Node table = root[key];
    SHARDLM_CHECK(table.IsMap() && table.size() > 0,
                  "'{}': {} must map thread counts to maps of matrix sizes to GB/s, such as {{1: {{1MiB: 20}}}}", path,
                  key);
    for (const auto& row : table) {
      const std::string threads = row.first.as<std::string>();
      const auto count = positive_key(threads, key, path, "a thread count");
      SHARDLM_CHECK(row.second.IsMap() && row.second.size() > 0,
                    "'{}': {}.{} must map matrix sizes (such as 1MiB) to GB/s", path, key, threads);
      std::map<int64_t, double>& sizes = rates[static_cast<int>(count)];
      for (const auto& entry : row.second) {
        const std::string size_key = entry.first.as<std::string>();
        const std::string name = fmt::format("{}.{}", key, threads);
        const int64_t bytes = parse_size(size_key, fmt::format("'{}': {} key", path, name));
        SHARDLM_CHECK(bytes > 0, "'{}': {} has a matrix size '{}' that is not positive", path, name, size_key);
        SHARDLM_CHECK(sizes.count(bytes) == 0, "'{}': {} gives the matrix size '{}' twice", path, name, size_key);
        sizes[bytes] = positive_number(entry.second, fmt::format("{}.{}", name, size_key), path, false) * kGB;
      }
    }
    return rates;
  };
  h.bandwidth_by_matrix = by_matrix("bandwidth_by_matrix_gb_s");
  h.cache_bandwidth_by_matrix = by_matrix("cache_bandwidth_by_matrix_gb_s");
  if (root["attention_ns_per_key"].IsDefined()) {
    const char* key = "attention_ns_per_key";
    const YAML::Node table = root[key];
    SHARDLM_CHECK(table.IsMap() && table.size() > 0,
                  "'{}': {} must map head dims to [per kv head, per query head] nanoseconds, such as {{64: [0.5, 4.0]}}",
                  path, key);
    for (const auto& entry : table) {
      const std::string head_dim = entry.first.as<std::string>();
      const int64_t dim = positive_key(head_dim, key, path, "a head dim");
      const std::string name = fmt::format("{}.{}", key, head_dim);
      SHARDLM_CHECK(entry.second.IsSequence() && entry.second.size() == 2,
                    "'{}': {} must be [per kv head, per query head] nanoseconds", path, name);
      h.attention_by_head_dim[dim] = {positive_number(entry.second[0], name + "[0]", path, true) * 1e-9,
                                      positive_number(entry.second[1], name + "[1]", path, true) * 1e-9};
    }
  }
  h.cache_bytes = size("cache", false);
  const YAML::Node flops = required("flops_tflops");
  SHARDLM_CHECK(flops.IsMap() && flops.size() > 0, "'{}': flops_tflops must map dtypes (f32, bf16, ...) to TFLOP/s",
                path);
  for (const auto& entry : flops) {
    const std::string dtype = entry.first.as<std::string>();
    const NumberFormat format = parse_format(dtype, fmt::format("'{}': flops_tflops key", path));
    h.flops[format] = positive_number(entry.second, "flops_tflops." + dtype, path, false) * 1e12;
  }
  // Maps from a weight dtype to a map from thread counts to GB/s.
  auto by_dtype = [&](const char* key) {
    std::map<DType, std::map<int, double>> rates;
    if (!root[key].IsDefined()) return rates;
    const YAML::Node table = root[key];
    SHARDLM_CHECK(table.IsMap() && table.size() > 0,
                  "'{}': {} must map weight dtypes (f32, f16, bf16, int8, q8_0, q4_1, q4_0) to maps of thread counts to "
                  "GB/s, such as {{q4_1: {{1: 12, 2: 24}}}}",
                  path, key);
    for (const auto& entry : table) {
      const std::string name = entry.first.as<std::string>();
      const std::string field = fmt::format("{}.{}", key, name);
      const DType dtype = [&] {
        try {
          return parse_dtype(name);
        } catch (const Error&) {
          SHARDLM_FAIL("'{}': {} has a key '{}' that is not a weight dtype (f32, f16, bf16, int8, q8_0, q4_1, q4_0)", path,
                       key, name);
        }
      }();
      SHARDLM_CHECK(entry.second.IsMap() && entry.second.size() > 0, "'{}': {} must map thread counts to GB/s", path,
                    field);
      for (const auto& rate : entry.second) {
        const std::string threads = rate.first.as<std::string>();
        const auto count = positive_key(threads, field, path, "a thread count");
        rates[dtype][static_cast<int>(count)] =
            positive_number(rate.second, fmt::format("{}.{}", field, threads), path, false) * kGB;
      }
    }
    return rates;
  };
  h.kernel_rate = by_dtype("kernel_gb_s");
  h.kernel_streamed_rate = by_dtype("kernel_streamed_gb_s");
  h.kernel_streamed_long_rate = by_dtype("kernel_streamed_long_rows_gb_s");
  h.step_overhead_s = number("step_overhead_us", 0) * 1e-6;
  // Counts are whole numbers within int: a larger one would overflow the conversion.
  auto count = [&](const char* key) {
    const double value = number(key, 1, false);
    SHARDLM_CHECK(value >= 1 && value <= (1 << 20) && value == std::floor(value),
                  "'{}': {} must be a whole number from 1 to 1048576, got {}", path, key, value);
    return static_cast<int>(value);
  };
  h.devices_per_node = count("devices_per_node");
  h.threads = count("threads");
  h.intra_node_bandwidth = number("intra_node_bandwidth_gb_s", 0, false) * kGB;
  h.inter_node_bandwidth = number("inter_node_bandwidth_gb_s", 0, false) * kGB;
  h.link_latency_s = number("link_latency_us", 0) * 1e-6;
  if (h.intra_node_bandwidth == 0) h.intra_node_bandwidth = h.inter_node_bandwidth;
  if (h.inter_node_bandwidth == 0) h.inter_node_bandwidth = h.intra_node_bandwidth;
  // Ranks on one CPU pass messages through its memory: a copy reads and writes, half the bandwidth.
  if (h.cpu && h.intra_node_bandwidth == 0) h.intra_node_bandwidth = h.inter_node_bandwidth = h.memory_bandwidth / 2;
  SHARDLM_CHECK(h.intra_node_bandwidth > 0, "'{}': missing required key 'intra_node_bandwidth_gb_s'", path);
  return h;
}

}  // namespace

std::string gpu_preset_for(std::string_view device_name, int64_t memory_bytes) {
  auto has = [&](std::string_view part) { return device_name.find(part) != std::string_view::npos; };
  if (has("PCIe") || has("NVL")) return "";
  // H100 SXM calls itself "H100 80GB HBM3" (or "H100 SXM5 80GB"); H200 SXM just "H200".
  if (has("H100") && (has("HBM3") || has("SXM"))) return "h100-80g";
  if (has("H200")) return "h200";
  if (has("A100") && has("SXM")) return memory_bytes > (int64_t{60} << 30) ? "a100-80g" : "a100-40g";
  return "";
}

Hardware find_hardware(const std::string& name_or_path) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(name_or_path)) return read_hardware(name_or_path);
  const fs::path preset = fs::path(config_dir()) / "hardware" / (name_or_path + ".yaml");
  if (name_or_path.find('/') == std::string::npos && fs::is_regular_file(preset)) return read_hardware(preset.string());
  std::string known;
  if (fs::is_directory(preset.parent_path()))
    for (const auto& entry : fs::directory_iterator(preset.parent_path()))
      if (entry.path().extension() == ".yaml") known += (known.empty() ? "" : ", ") + entry.path().stem().string();
  SHARDLM_FAIL("--hardware '{}' is neither a preset ({}) nor a YAML file", name_or_path, known);
}

std::string hardware_yaml(const Hardware& h, const std::string& comment) {
  YAML::Emitter out;
  out << YAML::Comment(comment) << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << h.name;
  out << YAML::Key << "kind" << YAML::Value << (h.cpu ? "cpu" : "gpu");
  out << YAML::Key << "memory" << YAML::Value << fmt::format("{}B", h.memory_bytes);
  out << YAML::Key << "runtime_overhead" << YAML::Value << fmt::format("{}B", h.runtime_overhead_bytes);
  out << YAML::Key << "rank_overhead" << YAML::Value << fmt::format("{}B", h.rank_overhead_bytes);
  out << YAML::Key << "threads" << YAML::Value << h.threads;
  out << YAML::Key << "memory_bandwidth_gb_s" << YAML::Value << fmt::format("{:.2f}", h.memory_bandwidth / kGB);
  if (!h.bandwidth_by_threads.empty()) {
    out << YAML::Key << "bandwidth_by_threads_gb_s" << YAML::Value << YAML::BeginMap;
    for (const auto& [threads, bandwidth] : h.bandwidth_by_threads)
      out << YAML::Key << threads << YAML::Value << fmt::format("{:.2f}", bandwidth / kGB);
    out << YAML::EndMap;
  }
  auto matrix_table = [&](const char* key, const std::map<int, std::map<int64_t, double>>& table) {
    if (table.empty()) return;
    out << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const auto& [threads, sizes] : table) {
      out << YAML::Key << threads << YAML::Value << YAML::Flow << YAML::BeginMap;
      for (const auto& [bytes, bandwidth] : sizes)
        out << YAML::Key << size_text(bytes) << YAML::Value << fmt::format("{:.2f}", bandwidth / kGB);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  };
  matrix_table("bandwidth_by_matrix_gb_s", h.bandwidth_by_matrix);
  if (h.cache_bytes > 0) out << YAML::Key << "cache" << YAML::Value << fmt::format("{}B", h.cache_bytes);
  if (!h.cache_bandwidth_by_threads.empty()) {
    out << YAML::Key << "cache_bandwidth_by_threads_gb_s" << YAML::Value << YAML::BeginMap;
    for (const auto& [threads, bandwidth] : h.cache_bandwidth_by_threads)
      out << YAML::Key << threads << YAML::Value << fmt::format("{:.2f}", bandwidth / kGB);
    out << YAML::EndMap;
  }
  matrix_table("cache_bandwidth_by_matrix_gb_s", h.cache_bandwidth_by_matrix);
  out << YAML::Key << "flops_tflops" << YAML::Value << YAML::BeginMap;
  for (const auto& [format, flops] : h.flops)
    out << YAML::Key << std::string(format_name(format)) << YAML::Value << fmt::format("{:.4f}", flops / 1e12);
  out << YAML::EndMap;
  auto dtype_table = [&](const char* key, const std::map<DType, std::map<int, double>>& table) {
    if (table.empty()) return;
    out << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const auto& [dtype, rates] : table) {
      out << YAML::Key << std::string(dtype_name(dtype)) << YAML::Value << YAML::Flow << YAML::BeginMap;
      for (const auto& [threads, rate] : rates) out << YAML::Key << threads << YAML::Value << fmt::format("{:.3f}", rate / kGB);
      out << YAML::EndMap;
    }
    out << YAML::EndMap;
  };
  dtype_table("kernel_gb_s", h.kernel_rate);
  dtype_table("kernel_streamed_gb_s", h.kernel_streamed_rate);
  dtype_table("kernel_streamed_long_rows_gb_s", h.kernel_streamed_long_rate);
  out << YAML::Key << "step_overhead_us" << YAML::Value << fmt::format("{:.2f}", h.step_overhead_s * 1e6);
  if (!h.step_overhead_by_threads.empty()) {
    out << YAML::Key << "step_overhead_us_by_threads" << YAML::Value << YAML::BeginMap;
    for (const auto& [threads, seconds] : h.step_overhead_by_threads)
      out << YAML::Key << threads << YAML::Value << fmt::format("{:.2f}", seconds * 1e6);
    out << YAML::EndMap;
  }
  if (!h.attention_by_head_dim.empty()) {
    out << YAML::Key << "attention_ns_per_key" << YAML::Value << YAML::BeginMap;
    for (const auto& [head_dim, cost] : h.attention_by_head_dim) {
      out << YAML::Key << head_dim << YAML::Value << YAML::Flow << YAML::BeginSeq
          << fmt::format("{:.3f}", cost.per_kv_head * 1e9) << fmt::format("{:.3f}", cost.per_head * 1e9) << YAML::EndSeq;
    }
    out << YAML::EndMap;
  }
  if (!h.pass_overhead_by_threads.empty()) {
    out << YAML::Key << "pass_overhead_us_by_threads" << YAML::Value << YAML::BeginMap;
    for (const auto& [threads, seconds] : h.pass_overhead_by_threads)
      out << YAML::Key << threads << YAML::Value << fmt::format("{:.2f}", seconds * 1e6);
    out << YAML::EndMap;
  }
  out << YAML::Key << "devices_per_node" << YAML::Value << h.devices_per_node;
  out << YAML::Key << "intra_node_bandwidth_gb_s" << YAML::Value << fmt::format("{:.2f}", h.intra_node_bandwidth / kGB);
  out << YAML::Key << "inter_node_bandwidth_gb_s" << YAML::Value << fmt::format("{:.2f}", h.inter_node_bandwidth / kGB);
  out << YAML::Key << "link_latency_us" << YAML::Value << fmt::format("{:.2f}", h.link_latency_s * 1e6);
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace shardlm::plan
