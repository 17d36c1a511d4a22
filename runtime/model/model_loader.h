// Opens a model checkpoint by its path, whatever its format, and finds the tokenizer that goes with it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "runtime/model/model_weights.h"
#include "runtime/tokenizer/tokenizer.h"

namespace shardlm {

// Formats: a Hugging Face directory (config.json + safetensors), a GGUF file, or a llama2.c
// checkpoint file; files are told apart by content, not by name.
// matrix_dtype: the dtype matrices are kept in; nullopt keeps the checkpoint's own, every tensor a
// view of the mapped file where it can be (GGUF's Q4_0 included), which is what a rank cuts its
// share from before reading anything.
LoadedModel load_model(const std::string& path, std::optional<DType> matrix_dtype);

// Only the ModelSpec, without loading or converting any weight.
ModelSpec read_model_spec(const std::string& path);

// The chat template (Jinja source) a model ships: GGUF's tokenizer.chat_template, or chat_template in
// a Hugging Face directory's tokenizer_config.json; empty when it has none.
std::string read_chat_template_source(const std::string& model_path);

// The tokenizer at tokenizer_path, or when that is empty, the one beside the model: llama2.c's
// `tokenizer.bin`, else a single `tok*.bin`. Throws saying what was looked for.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& model_path, const std::string& tokenizer_path,
                                          const ModelSpec& spec);

}  // namespace shardlm
