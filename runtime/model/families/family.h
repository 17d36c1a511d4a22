// A model family: how its config.json becomes a ModelSpec and how its tensor names map onto
// ModelWeights. Everything else is the generic decoder's business.
#pragma once

#include <string>
#include <vector>

#include "runtime/model/model_spec.h"
#include "runtime/model/model_weights.h"
#include "runtime/model/weights/config_json.h"
#include "runtime/model/weights/weight_loader.h"

namespace shardlm {

struct Family {
  std::string name;
  std::vector<std::string> architectures;  // config.json "architectures" entries or model_type values
  ModelSpec (*read_config)(const ConfigJson& config);
  ModelWeights (*load_weights)(const ModelSpec& spec, const WeightLoader& loader);
};

const Family& llama_family();
const Family& falcon_family();
const Family& bloom_family();
const Family& mpt_family();
const Family& gpt_bigcode_family();
const Family& gpt2_family();

// The family of a config.json; throws naming the architecture and listing the known ones.
const Family& family_for(const ConfigJson& config);

// Shared by the families: bos/eos from the config into the spec's bos and stop tokens.
void read_special_tokens(const ConfigJson& config, ModelSpec& spec);

}  // namespace shardlm
