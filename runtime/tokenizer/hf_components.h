// The normalizer, pre_tokenizer, post_processor and decoder sections of a tokenizer.json, read into
// ShardLM's parts. Each refuses a type it does not implement, naming the field and the type, rather
// than tokenizing differently from Hugging Face.
#pragma once

#include <memory>

#include "runtime/tokenizer/decoder.h"
#include "runtime/tokenizer/json_node.h"
#include "runtime/tokenizer/normalizer.h"
#include "runtime/tokenizer/post_processor.h"
#include "runtime/tokenizer/pre_tokenizer.h"

namespace shardlm {

// Each takes a non-null node.
std::unique_ptr<Normalizer> read_normalizer(const JsonNode& node);
std::unique_ptr<PreTokenizer> read_pre_tokenizer(const JsonNode& node);
std::unique_ptr<TokenDecoder> read_decoder(const JsonNode& node);
PostProcessor read_post_processor(const JsonNode& node);

}  // namespace shardlm
