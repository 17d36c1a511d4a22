#include "runtime/model/weights/weight_loader.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "runtime/backend/backend.h"
#include "runtime/core/check.h"
#include "runtime/model/weight_dtype.h"

namespace shardlm {

WeightLoader::WeightLoader(const SafetensorsCheckpoint& checkpoint, std::optional<DType> matrix_dtype)
    : checkpoint_(checkpoint),
      matrix_dtype_(matrix_dtype),
      progress_("checkpoint", static_cast<int64_t>(checkpoint.names().size()), checkpoint.total_bytes()) {}

std::string WeightLoader::resolve(const std::string& name) const {
  if (checkpoint_.contains(name)) return name;
  const std::string prefix = "transformer.";
  if (name.rfind(prefix, 0) == 0 && checkpoint_.contains(name.substr(prefix.size()))) return name.substr(prefix.size());
  return "";
}

bool WeightLoader::has(const std::string& name) const { return !resolve(name).empty(); }

std::string WeightLoader::first_present(const std::vector<std::string>& names) const {
  for (const auto& name : names)
    if (has(name)) return name;
  SHARDLM_FAIL("the checkpoint has none of {}", fmt::join(names, ", "));
}

Tensor WeightLoader::to_dtype(const Tensor& tensor, DType dtype) const {
  progress_.advance(tensor.bytes());
  return convert_tensor(tensor, dtype);
}

Tensor WeightLoader::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const std::string found = resolve(name);
  SHARDLM_CHECK(!found.empty(), "the checkpoint has no tensor '{}'", name);
  Tensor tensor = checkpoint_.tensor(found);
  SHARDLM_CHECK(tensor.rank() == 2 && tensor.dim(0) == rows && tensor.dim(1) == cols,
                "tensor '{}' is {}, the config implies [{}, {}]", found, tensor.describe(), rows, cols);
  return to_dtype(tensor, matrix_dtype_.value_or(tensor.dtype()));
}

Tensor WeightLoader::matrix_transposed(const std::string& name, int64_t rows, int64_t cols) const {
  const std::string found = resolve(name);
  SHARDLM_CHECK(!found.empty(), "the checkpoint has no tensor '{}'", name);
  const Tensor stored = checkpoint_.tensor(found);
  SHARDLM_CHECK(stored.rank() == 2 && stored.dim(0) == cols && stored.dim(1) == rows,
                "tensor '{}' is {}, the config implies [{}, {}] (stored transposed)", found, stored.describe(), cols, rows);
  Tensor transposed = cpu_backend().empty({rows, cols}, DType::f32);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      transposed.data_as<float>()[r * cols + c] = load_as_f32(stored.data(), stored.dtype(), c * rows + r);
  return to_dtype(transposed, matrix_dtype_.value_or(stored.dtype()));
}

Tensor WeightLoader::vector(const std::string& name, int64_t size) const {
  const std::string found = resolve(name);
  SHARDLM_CHECK(!found.empty(), "the checkpoint has no tensor '{}'", name);
  Tensor tensor = checkpoint_.tensor(found);
  SHARDLM_CHECK(tensor.numel() == size && tensor.rank() == 1, "tensor '{}' is {}, the config implies [{}]", found,
                tensor.describe(), size);
  return to_dtype(tensor, DType::f32);
}

Tensor WeightLoader::optional_vector(const std::string& name, int64_t size) const {
  return has(name) ? vector(name, size) : Tensor();
}

Linear WeightLoader::linear(const std::string& prefix, int64_t out, int64_t in, bool bias) const {
  return {matrix(prefix + ".weight", out, in), bias ? vector(prefix + ".bias", out) : Tensor()};
}

Norm WeightLoader::norm(const std::string& prefix, int64_t size) const {
  return {vector(prefix + ".weight", size), optional_vector(prefix + ".bias", size)};
}

}  // namespace shardlm
