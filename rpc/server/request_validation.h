// Turns the API's requests into engine requests, checking every field: a bad value throws
// InvalidArgument naming the field (as the client spelled it in the .proto, e.g.
// "options.sampling.top_p"), and nothing else is touched. Unknown fields (from a newer or a wrong
// client) are refused too, rather than silently ignored.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "rpc/server/serving_loop.h"
#include "runtime/engine/token_constraint.h"
#include "runtime/model/model_spec.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/tokenizer.h"
#include "shardlm/v1/inference.pb.h"

namespace shardlm::rpc {

class InvalidArgument : public std::runtime_error {
 public:
  InvalidArgument(const std::string& field, const std::string& problem)
      : std::runtime_error(field + ": " + problem), field_(field) {}
  const std::string& field() const { return field_; }

 private:
  std::string field_;
};

// Limits on what one request may ask for; beyond them a value is absurd rather than merely large.
inline constexpr int64_t kMaxNewTokensLimit = 1 << 20;
inline constexpr size_t kMaxTextBytes = 16 << 20;
inline constexpr size_t kMaxStopStrings = 16, kMaxStopStringBytes = 1024, kMaxStopTokens = 256;
inline constexpr size_t kMaxChatMessages = 4096;

struct ValidationContext {
  const ModelSpec& spec;
  const Tokenizer& tokenizer;
  const ChatTemplate* chat = nullptr;  // null: the model has no chat template
  // Every token's bytes, for structured output (options.json_schema); null: not offered.
  std::shared_ptr<const TokenVocabulary> vocabulary = nullptr;
};

ServingRequest to_serving_request(const shardlm::v1::GenerateRequest& request, const ValidationContext& context);
ServingRequest to_serving_request(const shardlm::v1::ChatRequest& request, const ValidationContext& context);
// The checks Tokenize and Detokenize need.
void check_text_field(const std::string& field, const std::string& text, bool allow_empty);
void check_token_ids(const std::string& field, const google::protobuf::RepeatedField<int32_t>& ids,
                     int64_t vocab_size, size_t max_count);
void check_no_unknown_fields(const std::string& path, const google::protobuf::Message& message);

}  // namespace shardlm::rpc
