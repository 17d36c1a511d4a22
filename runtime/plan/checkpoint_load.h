// What loading a checkpoint file costs a CPU process beyond the weights it keeps: the CLI fills this
// in from the file (runtime/model/checkpoint_contents.h) when --model is a checkpoint rather than a
// preset. The planner then predicts a process's peak resident memory, not just a device's.
#pragma once

#include <cstdint>

namespace shardlm::plan {

// A rank maps the file, cuts its share from views of it, then repacks or converts only that share;
// every file page it reads into a copy is given back (release_mapped_pages). So a running rank holds
// its own weights, as heap copies or as the file pages of views it reads, and nothing else of the file.
struct CheckpointLoad {
  bool present = false;
  int64_t file_bytes = 0;  // the file's size (for the record: only the views a rank reads stay resident)
  // Tensors the loader repacks on the heap before any cut (GGUF's k-quants), at their full unsharded
  // size in the runtime dtype: held together until the rank has cut its share.
  int64_t converted_bytes = 0;
  // Of those, the LM head's own (not a tied embedding's): under tensor parallelism a rank copies its
  // rows out and lets the whole go before cutting its layers (shard_model).
  int64_t converted_lm_head_bytes = 0;
  bool lm_head_converted = false;  // the tensor the LM head reads (its own, or a tied embedding) was repacked
  bool matrices_converted = false;  // matrices are heap copies (quantized or another dtype), not views
  // The token embedding stays a view of the file, read a row per token: its pages are not resident
  // unless a tied LM head reads them all.
  bool embedding_viewed = false;
  int64_t tokenizer_bytes = 0;  // heap the tokenizer takes, counted as it is built
};

}  // namespace shardlm::plan
