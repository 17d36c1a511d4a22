// What loading a checkpoint file costs a CPU process beyond the weights it keeps: the CLI fills this
// in from the file (runtime/model/checkpoint_contents.h) when --model is a checkpoint rather than a
// preset. The planner then predicts a process's peak resident memory, not just a device's.
#pragma once

#include <cstdint>

namespace shardlm::plan {

struct CheckpointLoad {
  bool present = false;
  int64_t file_bytes = 0;  // the mapped file: every page is read while loading, and stays mapped
  // Tensors the loader converts (dequantizes) into heap memory instead of viewing the mapping, at their
  // full unsharded size in the runtime dtype: held together until sharding is done.
  int64_t converted_bytes = 0;
  bool matrices_converted = false;  // matrices are heap copies (quantized or another dtype), not views
  int64_t tokenizer_bytes = 0;      // heap the tokenizer takes, counted as it is built
};

}  // namespace shardlm::plan
