// Hugging Face tokenizer.json -> Tokenizer. Reads BPE models, byte-level (GPT-2, SmolLM2, StarCoder,
// BLOOM, Falcon, Llama 3, ...) and SentencePiece-converted with byte fallback (Llama 2, Mistral, ...),
// with their added tokens, normalizer, pre-tokenizer, post-processor and decoder. A file that is not
// JSON, lacks a field, holds a wrong type, or uses a part ShardLM does not implement is refused with
// an error naming the file and the field.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "runtime/tokenizer/bpe_tokenizer.h"

namespace shardlm {

struct HfTokenizerOptions {
  // BOS / EOS ids when the caller knows them (from config.json or generation_config.json); -1 means
  // find them: tokenizer_config.json's bos_token / eos_token beside the file, else the post-processor's
  // template, else well-known names (<|begin_of_text|>, <s>, <bos>, <|endoftext|>, </s>, ...).
  int32_t bos = -1;
  int32_t eos = -1;
  bool read_tokenizer_config = true;
};

// Reads the tokenizer.json at `path`.
std::unique_ptr<BpeTokenizer> load_hf_tokenizer(const std::string& path, const HfTokenizerOptions& options = {});
// Reads tokenizer.json text; `origin` names it in errors (and locates tokenizer_config.json, when
// read_tokenizer_config and origin is a path).
std::unique_ptr<BpeTokenizer> parse_hf_tokenizer(std::string_view json_text, const std::string& origin,
                                                 const HfTokenizerOptions& options = {});

}  // namespace shardlm
