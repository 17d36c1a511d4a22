// OpenAI-style requests (POST /v1/completions, /v1/chat/completions) turned into ShardLM's own API
// messages, so that they pass the very checks a gRPC request passes (rpc/server/request_validation.h).
// Every error names the field as the OpenAI request spells it ("max_tokens", "messages[1].content").
#pragma once

#include <stdexcept>
#include <string>

#include "rpc/server/request_validation.h"

namespace shardlm::rpc {

// An HTTP error with the OpenAI error body's fields.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string type, std::string param, const std::string& message)
      : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)) {}
  int status() const { return status_; }
  const std::string& type() const { return type_; }    // "invalid_request_error", "server_error", ...
  const std::string& param() const { return param_; }  // the field at fault; empty when none is
 private:
  int status_;
  std::string type_, param_;
};

struct OpenAiRequest {
  ServingRequest serving;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage: a last chunk with the usage
  bool logprobs = false;       // the chosen tokens' log-probabilities in the answer
};

enum class OpenAiEndpoint { completions, chat_completions };

// `body` is the request's JSON; `served_model` the name /v1/models lists (the request's "model" must
// be it). Throws HttpError (400, or 404 for another model) naming the field.
OpenAiRequest parse_openai_request(OpenAiEndpoint endpoint, const std::string& body, const ValidationContext& context,
                                   const std::string& served_model);

}  // namespace shardlm::rpc
