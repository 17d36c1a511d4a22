// What `shardlm plan --model M` plans for: a preset (configs/models/<name>.yaml, a published
// config.json written as YAML), a YAML file of that form, or a checkpoint (Hugging Face directory,
// GGUF, llama2.c), whose spec is read without loading weights. A checkpoint also tells what loading
// it costs a CPU process (the mapped file, the tensors converted at load, the tokenizer).
#pragma once

#include <string>

#include "runtime/model/model_spec.h"
#include "runtime/plan/checkpoint_load.h"
#include "runtime/plan/number_format.h"

namespace shardlm::cli {

struct PlanModel {
  std::string name;
  ModelSpec spec;
  plan::CheckpointLoad load;                                      // present only for a checkpoint
  plan::NumberFormat runtime_weights = plan::NumberFormat::bf16;  // what the runtime would hold it in
};

// Throws naming the preset, file or key that is wrong (listing the known presets for an unknown one).
PlanModel read_plan_model(const std::string& model);

// A model preset: its YAML turned into the config.json it copies and read by the family's reader.
ModelSpec read_model_preset(const std::string& path);

}  // namespace shardlm::cli
