#include "rpc/http/openai_requests.h"

#include <climits>
#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

namespace shardlm::rpc {
namespace {

// Ordered: a response_format schema is passed on as text, its properties in the order given.
using json = nlohmann::ordered_json;
namespace v1 = shardlm::v1;

HttpError bad(const std::string& param, const std::string& problem) {
  return HttpError(400, "invalid_request_error", param, param.empty() ? problem : param + ": " + problem);
}

const char* type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a number";
  }
}

// The request's fields, read once each; what is left at the end was not understood.
class Fields {
 public:
  explicit Fields(const json& body) : body_(body) {}

  // The field's value, or null when absent or null (OpenAI clients send null for "not given").
  const json& take(const std::string& name) {
    taken_.insert(name);
    static const json null;
    const auto found = body_.find(name);
    return found == body_.end() ? null : *found;
  }
  std::optional<double> number(const std::string& name) {
    const json& value = take(name);
    if (value.is_null()) return std::nullopt;
    if (!value.is_number()) throw bad(name, fmt::format("expected a number, got {}", type_name(value)));
    return value.get<double>();
  }
  std::optional<int64_t> integer(const std::string& name) {
    const json& value = take(name);
    if (value.is_null()) return std::nullopt;
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) throw bad(name, "is too large");
    if (value.is_number_integer()) return value.get<int64_t>();
    if (value.is_number_float() && std::nearbyint(value.get<double>()) == value.get<double>() &&
        std::abs(value.get<double>()) < 9e15)
      return static_cast<int64_t>(value.get<double>());
    throw bad(name, fmt::format("expected an integer, got {}", type_name(value)));
  }
  std::optional<bool> boolean(const std::string& name) {
    const json& value = take(name);
    if (value.is_null()) return std::nullopt;
    if (!value.is_boolean()) throw bad(name, fmt::format("expected true or false, got {}", type_name(value)));
    return value.get<bool>();
  }
  std::optional<std::string> text(const std::string& name) {
    const json& value = take(name);
    if (value.is_null()) return std::nullopt;
    if (!value.is_string()) throw bad(name, fmt::format("expected a string, got {}", type_name(value)));
    return value.get<std::string>();
  }
  // Fields a client may send that ShardLM accepts only at the value that changes nothing.
  void only(const std::string& name, const json& neutral, const std::string& why) {
    const json& value = take(name);
    if (!value.is_null() && value != neutral)
      throw bad(name, fmt::format("only {} is supported ({})", neutral.dump(), why));
  }
  void reject_unknown() const {
    for (const auto& [name, value] : body_.items())
      if (!taken_.count(name)) throw bad(name, "unknown field (not part of the API ShardLM serves)");
  }

 private:
  const json& body_;
  std::set<std::string> taken_;
};

float as_float(const std::string& name, double value) {
  if (!std::isfinite(value) || std::abs(value) > 1e30) throw bad(name, fmt::format("out of range: {}", value));
  return static_cast<float>(value);
}

// response_format: plain text, any JSON object, or JSON valid for a schema (options.json_schema).
void read_response_format(const json& format, v1::GenerationOptions& options) {
  if (format.is_null()) return;
  if (!format.is_object() || !format.contains("type") || !format["type"].is_string())
    throw bad("response_format", "expected {\"type\": \"text\"}, {\"type\": \"json_object\"} or {\"type\": \"json_schema\", ...}");
  for (const auto& [key, value] : format.items())
    if (key != "type" && key != "json_schema") throw bad("response_format." + key, "unknown field");
  const std::string type = format["type"].get<std::string>();
  if (type == "json_object") {
    options.set_json_schema(R"({"type": "object"})");
  } else if (type == "json_schema") {
    const json& wrapper = format.value("json_schema", json());
    if (!wrapper.is_object() || !wrapper.contains("schema"))
      throw bad("response_format.json_schema", "expected {\"name\": ..., \"schema\": {...}}");
    for (const auto& [key, value] : wrapper.items())
      if (key != "name" && key != "schema" && key != "strict" && key != "description")
        throw bad("response_format.json_schema." + key, "unknown field");
    options.set_json_schema(wrapper["schema"].dump());
  } else if (type != "text") {
    throw bad("response_format.type", fmt::format("expected text, json_object or json_schema, got '{}'", type));
  }
}

// The generation options both endpoints share, into `options`.
void read_options(Fields& fields, OpenAiEndpoint endpoint, v1::GenerationOptions& options, OpenAiRequest& request) {
  const bool chat = endpoint == OpenAiEndpoint::chat_completions;
  std::optional<int64_t> max_tokens = fields.integer("max_tokens");
  std::string name = "max_tokens";
  if (chat) {
    if (auto completion = fields.integer("max_completion_tokens")) {
      if (max_tokens) throw bad("max_completion_tokens", "give max_completion_tokens or max_tokens, not both");
      max_tokens = completion;
      name = "max_completion_tokens";
    }
  }
  if (max_tokens) {
    if (*max_tokens < 1 || *max_tokens > kMaxNewTokensLimit)
      throw bad(name, fmt::format("must be in [1, {}], got {}", kMaxNewTokensLimit, *max_tokens));
    options.set_max_new_tokens(static_cast<int32_t>(*max_tokens));
  }
  v1::SamplingOptions& sampling = *options.mutable_sampling();
  // OpenAI's default temperature is 1 (sampling); 0 asks for greedy decoding.
  sampling.set_temperature(as_float("temperature", fields.number("temperature").value_or(1.0)));
  if (auto top_p = fields.number("top_p")) sampling.set_top_p(as_float("top_p", *top_p));
  if (auto top_k = fields.integer("top_k")) {  // vLLM's extension; -1 means off there
    if (*top_k < -1 || *top_k > (1 << 30)) throw bad("top_k", fmt::format("must be -1 (off) or >= 0, got {}", *top_k));
    sampling.set_top_k(static_cast<int32_t>(std::max<int64_t>(*top_k, 0)));
  }
  if (auto min_p = fields.number("min_p")) sampling.set_min_p(as_float("min_p", *min_p));
  if (auto penalty = fields.number("repetition_penalty")) sampling.set_repetition_penalty(as_float("repetition_penalty", *penalty));
  if (auto penalty = fields.number("presence_penalty")) sampling.set_presence_penalty(as_float("presence_penalty", *penalty));
  fields.only("frequency_penalty", 0, "use presence_penalty or repetition_penalty");
  if (auto seed = fields.integer("seed")) {
    if (*seed < 0) throw bad("seed", fmt::format("must be >= 0, got {}", *seed));
    sampling.set_seed(static_cast<uint64_t>(*seed));
  }
  const json& stop = fields.take("stop");
  if (stop.is_string()) {
    options.add_stop(stop.get<std::string>());
  } else if (stop.is_array()) {
    for (size_t i = 0; i < stop.size(); ++i) {
      if (!stop[i].is_string()) throw bad(fmt::format("stop[{}]", i), fmt::format("expected a string, got {}", type_name(stop[i])));
      options.add_stop(stop[i].get<std::string>());
    }
  } else if (!stop.is_null()) {
    throw bad("stop", fmt::format("expected a string or an array of strings, got {}", type_name(stop)));
  }
  const json& stop_ids = fields.take("stop_token_ids");  // vLLM's extension
  if (stop_ids.is_array()) {
    for (size_t i = 0; i < stop_ids.size(); ++i) {
      if (!stop_ids[i].is_number_integer() || stop_ids[i].get<int64_t>() < INT32_MIN || stop_ids[i].get<int64_t>() > INT32_MAX)
        throw bad(fmt::format("stop_token_ids[{}]", i), "expected a token id");
      options.add_stop_token_ids(stop_ids[i].get<int32_t>());
    }
  } else if (!stop_ids.is_null()) {
    throw bad("stop_token_ids", fmt::format("expected an array of token ids, got {}", type_name(stop_ids)));
  }
  fields.only("n", 1, "one choice a request");
  fields.only("logit_bias", json::object(), "no logit biases");
  fields.text("user");  // an end-user id for the caller's own records: nothing to do with it here
  request.stream = fields.boolean("stream").value_or(false);
  const json& stream_options = fields.take("stream_options");
  if (!stream_options.is_null()) {
    if (!request.stream) throw bad("stream_options", "only with stream: true");
    if (!stream_options.is_object()) throw bad("stream_options", fmt::format("expected an object, got {}", type_name(stream_options)));
    for (const auto& [key, value] : stream_options.items()) {
      if (key != "include_usage") throw bad("stream_options." + key, "unknown field");
      if (!value.is_boolean()) throw bad("stream_options.include_usage", "expected true or false");
      request.include_usage = value.get<bool>();
    }
  }
  read_response_format(fields.take("response_format"), options);
  if (chat) {
    request.logprobs = fields.boolean("logprobs").value_or(false);
    fields.only("top_logprobs", 0, "only the chosen token's log-probability is returned");
    fields.only("tools", json::array(), "no tool calling");
    fields.only("tool_choice", "none", "no tool calling");
  } else {
    // Completions' logprobs counts alternatives besides the chosen token; only the chosen one is kept.
    if (auto logprobs = fields.integer("logprobs")) {
      if (*logprobs != 0) throw bad("logprobs", "only 0 (the chosen token's log-probability) is supported");
      request.logprobs = true;
    }
    fields.only("echo", false, "the prompt is not repeated");
    fields.only("best_of", 1, "one candidate a request");
    fields.only("suffix", "", "no insertion");
  }
  options.set_logprobs(request.logprobs);
}

// A chat message's content: a string, or an array of {"type": "text", "text": ...} parts.
std::string message_content(const json& content, const std::string& path) {
  if (content.is_string()) return content.get<std::string>();
  if (content.is_null()) return "";
  if (!content.is_array()) throw bad(path, fmt::format("expected a string or an array of text parts, got {}", type_name(content)));
  std::string text;
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string part_path = fmt::format("{}[{}]", path, i);
    if (!part.is_object() || part.value("type", json()) != "text" || !part.contains("text") || !part["text"].is_string())
      throw bad(part_path, "expected {\"type\": \"text\", \"text\": \"...\"} (only text parts are supported)");
    text += part["text"].get<std::string>();
  }
  return text;
}

// A validation error of ShardLM's own message, renamed to the OpenAI request's field.
std::string openai_field(const std::string& field, const std::string& max_tokens_name) {
  std::string name = field;
  for (const char* prefix : {"options.sampling.", "options."})
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  if (name == "max_new_tokens") return max_tokens_name;
  if (name == "json_schema") return "response_format";
  return name;
}

}  // namespace

OpenAiRequest parse_openai_request(OpenAiEndpoint endpoint, const std::string& body, const ValidationContext& context,
                                   const std::string& served_model) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& error) {  // a parse error, or a number beyond a double (out_of_range)
    throw bad("", fmt::format("the body is not valid JSON: {}", error.what()));
  }
  if (!parsed.is_object()) throw bad("", fmt::format("the body must be a JSON object, got {}", type_name(parsed)));
  Fields fields(parsed);
  const std::optional<std::string> model = fields.text("model");
  if (!model) throw bad("model", "is required (GET /v1/models lists the one served)");
  if (*model != served_model)
    throw HttpError(404, "invalid_request_error", "model",
                    fmt::format("model: '{}' is not served here; this server serves '{}'", *model, served_model));

  OpenAiRequest request;
  v1::GenerationOptions options;
  read_options(fields, endpoint, options, request);
  const std::string max_tokens_name =
      endpoint == OpenAiEndpoint::chat_completions && parsed.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
  try {
    if (endpoint == OpenAiEndpoint::completions) {
      v1::GenerateRequest generate;
      const json& prompt = fields.take("prompt");
      if (prompt.is_string()) {
        generate.set_prompt(prompt.get<std::string>());
      } else if (prompt.is_array() && prompt.size() == 1 && prompt[0].is_string()) {
        generate.set_prompt(prompt[0].get<std::string>());
      } else if (prompt.is_null()) {
        throw bad("prompt", "is required");
      } else {
        throw bad("prompt", "expected a string (or an array of one string: one prompt a request)");
      }
      fields.reject_unknown();
      *generate.mutable_options() = options;
      request.serving = to_serving_request(generate, context);
    } else {
      v1::ChatRequest chat;
      const json& messages = fields.take("messages");
      if (messages.is_null()) throw bad("messages", "is required");
      if (!messages.is_array()) throw bad("messages", fmt::format("expected an array, got {}", type_name(messages)));
      for (size_t i = 0; i < messages.size(); ++i) {
        const std::string path = fmt::format("messages[{}]", i);
        const json& message = messages[i];
        if (!message.is_object()) throw bad(path, fmt::format("expected an object, got {}", type_name(message)));
        for (const auto& [key, value] : message.items())
          if (key != "role" && key != "content" && key != "name") throw bad(path + "." + key, "unknown field");
        if (!message.contains("role") || !message["role"].is_string()) throw bad(path + ".role", "expected a string");
        v1::ChatMessage& added = *chat.add_messages();
        added.set_role(message["role"].get<std::string>());
        added.set_content(message_content(message.value("content", json()), path + ".content"));
      }
      fields.reject_unknown();
      *chat.mutable_options() = options;
      request.serving = to_serving_request(chat, context);
    }
  } catch (const InvalidArgument& error) {
    const std::string field = openai_field(error.field(), max_tokens_name);
    const std::string message = error.what();
    throw bad(field, message.substr(std::min(message.size(), error.field().size() + 2)));
  }
  return request;
}

}  // namespace shardlm::rpc
