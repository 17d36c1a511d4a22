// The tokenizer a GGUF file describes in its tokenizer.ggml.* metadata, built as the same BPE pipeline
// a tokenizer.json gives: "gpt2" (byte-level BPE, split as tokenizer.ggml.pre names) or "llama"
// (SentencePiece BPE with byte fallback). The GGUF reader fills GgufTokenizerData from the metadata.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/tokenizer/bpe_tokenizer.h"

namespace shardlm {

// GGUF token types (tokenizer.ggml.token_type).
enum GgufTokenType : int32_t {
  kGgufTokenNormal = 1,
  kGgufTokenUnknown = 2,
  kGgufTokenControl = 3,
  kGgufTokenUserDefined = 4,
  kGgufTokenUnused = 5,
  kGgufTokenByte = 6,
};

struct GgufTokenizerData {
  std::string model;                    // tokenizer.ggml.model: "gpt2" or "llama"
  std::string pre;                      // tokenizer.ggml.pre, "" when absent: "smollm", "default", "llama-bpe", ...
  std::vector<std::string> tokens;      // tokenizer.ggml.tokens; the index is the id
  std::vector<std::string> merges;      // tokenizer.ggml.merges, each "left right"; may be empty for "llama"
  std::vector<float> scores;            // tokenizer.ggml.scores; "llama" without merges derives them from these
  std::vector<int32_t> token_types;     // tokenizer.ggml.token_type (GgufTokenType); empty: all normal
  int32_t bos_id = -1;                  // tokenizer.ggml.bos_token_id
  int32_t eos_id = -1;                  // tokenizer.ggml.eos_token_id
  int32_t unknown_id = -1;              // tokenizer.ggml.unknown_token_id
  std::optional<bool> add_bos;          // tokenizer.ggml.add_bos_token (absent: false for gpt2, true for llama)
  std::optional<bool> add_eos;          // tokenizer.ggml.add_eos_token (absent: false)
  std::optional<bool> add_space_prefix; // tokenizer.ggml.add_space_prefix, "llama" only (absent: true)
};

// Throws naming the problem (an unknown model or pre-tokenizer, a merge naming an unknown token, ids
// out of range, arrays of different lengths).
std::unique_ptr<BpeTokenizer> make_bpe_tokenizer_from_gguf(const GgufTokenizerData& data);

// The pre-tokenizer a GGUF tokenizer.ggml.pre name stands for (byte-level models); throws for an
// unknown name.
std::unique_ptr<PreTokenizer> make_gguf_pre_tokenizer(const std::string& pre);

}  // namespace shardlm
