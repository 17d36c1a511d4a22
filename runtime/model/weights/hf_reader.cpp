#include "runtime/model/weights/hf_reader.h"

#include <filesystem>

#include "runtime/core/check.h"
#include "runtime/model/families/family.h"

namespace shardlm {

LoadedModel read_hf_model(const std::string& directory, std::optional<DType> matrix_dtype) {
  const std::string config_path = (std::filesystem::path(directory) / "config.json").string();
  const ConfigJson config = ConfigJson::read(config_path);
  const Family& family = family_for(config);
  LoadedModel model{family.read_config(config), {}};
  model.spec.validate();
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(directory);
  const WeightLoader loader(checkpoint, matrix_dtype);
  model.weights = family.load_weights(model.spec, loader);
  return model;
}

}  // namespace shardlm
