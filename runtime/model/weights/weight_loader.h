// Hands out a checkpoint's tensors by role: matrices in the dtype asked for (a view of the mapped
// file when it already is that dtype), norm weights and biases as f32, each checked against the
// shape the spec implies, with errors naming the tensor.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/model/model_weights.h"
#include "runtime/model/weights/load_progress.h"
#include "runtime/model/weights/safetensors.h"

namespace shardlm {

class WeightLoader {
 public:
  // matrix_dtype: the dtype matrices are kept in; nullopt keeps each as stored.
  WeightLoader(const SafetensorsCheckpoint& checkpoint, std::optional<DType> matrix_dtype);

  bool has(const std::string& name) const;
  Tensor matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // For GPT-2's Conv1D, stored [in, out]: returns [out, in] = [rows, cols].
  Tensor matrix_transposed(const std::string& name, int64_t rows, int64_t cols) const;
  Tensor vector(const std::string& name, int64_t size) const;
  Tensor optional_vector(const std::string& name, int64_t size) const;  // undefined when absent
  Linear linear(const std::string& prefix, int64_t out, int64_t in, bool bias) const;
  Norm norm(const std::string& prefix, int64_t size) const;  // prefix.weight, and prefix.bias when present
  // The first of several names the checkpoint holds (BLOOM and GPT-2 drop the "transformer." prefix).
  std::string first_present(const std::vector<std::string>& names) const;

 private:
  std::string resolve(const std::string& name) const;
  Tensor to_dtype(const Tensor& tensor, DType dtype) const;
  const SafetensorsCheckpoint& checkpoint_;
  std::optional<DType> matrix_dtype_;
  mutable LoadProgress progress_;
};

}  // namespace shardlm
