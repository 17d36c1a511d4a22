// What the request fuzz targets validate against: SmolLM2 as `shardlm serve` would serve it (its
// tokenizer, context length, ChatML template and every token's bytes for structured output).
#pragma once

#include <memory>
#include <string>

#include "rpc/server/request_validation.h"
#include "runtime/tokenizer/hf_tokenizer.h"

namespace shardlm::fuzz {

struct ServedSmolLm2 {
  std::unique_ptr<Tokenizer> tokenizer = load_hf_tokenizer(std::string(SHARDLM_FIXTURES) + "/tokenizers/smollm2/tokenizer.json");
  ModelSpec spec = [] {
    ModelSpec s;
    s.vocab_size = 49152;
    s.max_seq_len = 2048;
    return s;
  }();
  ChatTemplate chat = ChatTemplate::chatml("You are a helpful AI assistant.");
  std::shared_ptr<const TokenVocabulary> vocabulary = std::make_shared<const TokenVocabulary>(*tokenizer);

  rpc::ValidationContext context() const { return {spec, *tokenizer, &chat, vocabulary}; }
};

}  // namespace shardlm::fuzz
