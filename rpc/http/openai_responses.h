// The JSON bodies the OpenAI-compatible API answers with: whole completions, streamed chunks (one
// server-sent event each), usage, model lists and errors, in the shapes OpenAI's clients parse.
#pragma once

#include <cstdint>
#include <string>

#include "rpc/http/openai_requests.h"
#include "rpc/server/request_stream.h"

namespace shardlm::rpc {

// What every chunk and answer of one request repeats.
struct ResponseIdentity {
  OpenAiEndpoint endpoint;
  std::string id;       // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;  // Unix seconds
  std::string model;
};

// The whole answer of a request that did not stream.
std::string completion_body(const ResponseIdentity& identity, const StreamChunk& all, const StreamEnding& ending,
                            bool logprobs);
// One streamed chunk's event ("data: {...}\n\n"): new text (and its tokens' log-probabilities), or
// the chat's opening role, or the finish reason once it is known.
std::string chunk_event(const ResponseIdentity& identity, const StreamChunk& chunk, bool logprobs);
std::string role_event(const ResponseIdentity& identity);
std::string finish_event(const ResponseIdentity& identity, const StreamEnding& ending);
// stream_options.include_usage's last chunk: no choices, the usage.
std::string usage_event(const ResponseIdentity& identity, const StreamEnding& ending);
inline const char* kDoneEvent = "data: [DONE]\n\n";

// {"error": {"message", "type", "param", "code"}}
std::string error_body(const std::string& message, const std::string& type, const std::string& param);
// An ending with an error as the HTTP error OpenAI's clients expect (400, 429, 503 or 500).
HttpError ending_error(const StreamEnding& ending);
// GET /v1/models
std::string models_body(const std::string& model, int64_t created);

}  // namespace shardlm::rpc
