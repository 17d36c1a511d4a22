#include "rpc/http/openai_responses.h"

#include <nlohmann/json.hpp>

namespace shardlm::rpc {
namespace {

using nlohmann::json;

bool is_chat(const ResponseIdentity& identity) { return identity.endpoint == OpenAiEndpoint::chat_completions; }

json envelope(const ResponseIdentity& identity, bool chunk) {
  const char* object = is_chat(identity) ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion";
  return {{"id", identity.id}, {"object", object}, {"created", identity.created}, {"model", identity.model}};
}

json finish_reason(const StreamEnding& ending) {
  switch (ending.reason) {
    case FinishReason::length: return "length";
    case FinishReason::stop: return "stop";
    case FinishReason::none: return nullptr;
    default: return "abort";  // cancelled by the server (shutting down) or failed
  }
}

json usage(const StreamEnding& ending) {
  return {{"prompt_tokens", ending.prompt_tokens},
          {"completion_tokens", ending.completion_tokens},
          {"total_tokens", ending.prompt_tokens + ending.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", ending.cached_prompt_tokens}}}};
}

// The log-probabilities of `chunk`'s tokens, in each endpoint's own shape.
json logprobs_of(const ResponseIdentity& identity, const StreamChunk& chunk) {
  if (is_chat(identity)) {
    json content = json::array();
    for (size_t i = 0; i < chunk.tokens.size(); ++i)
      content.push_back({{"token_id", chunk.tokens[i]}, {"logprob", chunk.logprobs.at(i)}, {"top_logprobs", json::array()}});
    return {{"content", content}};
  }
  return {{"token_ids", chunk.tokens}, {"token_logprobs", chunk.logprobs}};
}

// Invalid UTF-8 cannot reach here (prompts are checked, output text is whole characters), but a
// server must never throw while answering: replace rather than fail.
std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }
std::string event(const json& body) { return "data: " + dump(body) + "\n\n"; }

}  // namespace

std::string completion_body(const ResponseIdentity& identity, const StreamChunk& all, const StreamEnding& ending,
                            bool logprobs) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason(ending)}};
  if (is_chat(identity))
    choice["message"] = {{"role", "assistant"}, {"content", all.text}};
  else
    choice["text"] = all.text;
  choice["logprobs"] = logprobs ? logprobs_of(identity, all) : json(nullptr);
  json body = envelope(identity, false);
  body["choices"] = json::array({choice});
  body["usage"] = usage(ending);
  return dump(body);
}

std::string chunk_event(const ResponseIdentity& identity, const StreamChunk& chunk, bool logprobs) {
  json choice = {{"index", 0}, {"finish_reason", nullptr}};
  if (is_chat(identity))
    choice["delta"] = {{"content", chunk.text}};
  else
    choice["text"] = chunk.text;
  choice["logprobs"] = logprobs ? logprobs_of(identity, chunk) : json(nullptr);
  json body = envelope(identity, true);
  body["choices"] = json::array({choice});
  return event(body);
}

std::string role_event(const ResponseIdentity& identity) {
  json body = envelope(identity, true);
  body["choices"] = json::array({{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}}, {"finish_reason", nullptr}}});
  return event(body);
}

std::string finish_event(const ResponseIdentity& identity, const StreamEnding& ending) {
  json choice = {{"index", 0}, {"finish_reason", finish_reason(ending)}};
  if (is_chat(identity))
    choice["delta"] = json::object();
  else
    choice["text"] = "";
  json body = envelope(identity, true);
  body["choices"] = json::array({choice});
  return event(body);
}

std::string usage_event(const ResponseIdentity& identity, const StreamEnding& ending) {
  json body = envelope(identity, true);
  body["choices"] = json::array();
  body["usage"] = usage(ending);
  return event(body);
}

std::string error_body(const std::string& message, const std::string& type, const std::string& param) {
  return dump({{"error", {{"message", message}, {"type", type}, {"param", param.empty() ? json(nullptr) : json(param)}, {"code", nullptr}}}});
}

HttpError ending_error(const StreamEnding& ending) {
  switch (ending.error) {
    case StreamEnding::Error::invalid_argument: return HttpError(400, "invalid_request_error", "", ending.message);
    case StreamEnding::Error::resource_exhausted: return HttpError(429, "rate_limit_error", "", ending.message);
    case StreamEnding::Error::unavailable: return HttpError(503, "server_error", "", ending.message);
    default: return HttpError(500, "server_error", "", ending.message);
  }
}

std::string models_body(const std::string& model, int64_t created) {
  return dump({{"object", "list"},
               {"data", json::array({{{"id", model}, {"object", "model"}, {"created", created}, {"owned_by", "shardlm"}}})}});
}

}  // namespace shardlm::rpc
