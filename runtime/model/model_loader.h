// Opens a model checkpoint by its path, whatever its format, and finds the tokenizer that goes with it.
#pragma once

#include <memory>
#include <string>

#include "runtime/model/weights/llama2c_reader.h"
#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

// Formats so far: llama2.c checkpoints. The format is told by content, not by file name.
LoadedModel load_model(const std::string& path, DType weight_dtype);

// The tokenizer at tokenizer_path, or when that is empty, the one beside the model: llama2.c's
// `tokenizer.bin`, else a single `tok*.bin`. Throws saying what was looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_path, const std::string& tokenizer_path,
                                          const ModelSpec& spec);

}  // namespace shardlm
