#include "rpc/server/request_validation.h"

#include <cmath>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "runtime/tokenizer/unicode.h"

namespace shardlm::rpc {

namespace {

using shardlm::v1::GenerationOptions;
using shardlm::v1::SamplingOptions;

// A real number within [low, high]; open ends exclude the bound.
void check_range(const std::string& field, double value, double low, double high, bool open_low = false,
                 bool open_high = false) {
  const bool ok = std::isfinite(value) && (open_low ? value > low : value >= low) &&
                  (open_high ? value < high : value <= high);
  if (!ok)
    throw InvalidArgument(field, fmt::format("must be in {}{}, {}{}, got {}", open_low ? "(" : "[", low, high,
                                             open_high ? ")" : "]", value));
}

SamplingParams to_sampling(const SamplingOptions& options, const ModelSpec& spec) {
  const std::string path = "options.sampling";
  check_no_unknown_fields(path, options);
  SamplingParams sampling;
  sampling.temperature = 0.0f;  // greedy unless asked: the API's default is reproducible
  if (options.has_temperature()) {
    check_range(path + ".temperature", options.temperature(), 0, 100);
    sampling.temperature = options.temperature();
  }
  if (options.has_top_k()) {
    check_range(path + ".top_k", options.top_k(), 0, static_cast<double>(spec.vocab_size));
    sampling.top_k = options.top_k();
  }
  if (options.has_top_p()) {
    check_range(path + ".top_p", options.top_p(), 0, 1, /*open_low=*/true);
    sampling.top_p = options.top_p();
  }
  if (options.has_min_p()) {
    check_range(path + ".min_p", options.min_p(), 0, 1, false, /*open_high=*/true);
    sampling.min_p = options.min_p();
  }
  if (options.has_repetition_penalty()) {
    check_range(path + ".repetition_penalty", options.repetition_penalty(), 0, 100, /*open_low=*/true);
    sampling.repetition_penalty = options.repetition_penalty();
  }
  if (options.has_presence_penalty()) {
    check_range(path + ".presence_penalty", options.presence_penalty(), -100, 100);
    sampling.presence_penalty = options.presence_penalty();
  }
  if (options.has_seed()) sampling.seed = options.seed();
  return sampling;
}

// options.json_schema as the request's constraint.
std::shared_ptr<TokenConstraint> json_constraint(const std::string& text, const ValidationContext& context) {
  const std::string field = "options.json_schema";
  if (!context.vocabulary) throw InvalidArgument(field, "structured output is not offered by this server");
  check_text_field(field, text, /*allow_empty=*/false);
  nlohmann::ordered_json schema;  // properties keep the order they are given in
  try {
    schema = nlohmann::ordered_json::parse(text);
  } catch (const nlohmann::ordered_json::exception& error) {  // a parse error, or a number beyond a double
    throw InvalidArgument(field, fmt::format("not valid JSON: {}", error.what()));
  }
  try {
    return std::make_shared<JsonConstraint>(compile_json_schema(schema), context.vocabulary);
  } catch (const JsonSchemaError& error) {
    throw InvalidArgument(field, fmt::format("the schema's {}", error.what()));
  }
}

// Everything but the prompt.
ServingRequest from_options(const GenerationOptions& options, const ValidationContext& context) {
  const ModelSpec& spec = context.spec;
  check_no_unknown_fields("options", options);
  ServingRequest request;
  GenerationRequest& generation = request.generation;
  generation.max_new_tokens = 256;
  if (options.has_max_new_tokens()) {
    check_range("options.max_new_tokens", options.max_new_tokens(), 1, static_cast<double>(kMaxNewTokensLimit));
    generation.max_new_tokens = options.max_new_tokens();
  }
  generation.sampling = to_sampling(options.sampling(), spec);
  if (static_cast<size_t>(options.stop_size()) > kMaxStopStrings)
    throw InvalidArgument("options.stop", fmt::format("at most {} stop strings, got {}", kMaxStopStrings, options.stop_size()));
  for (int i = 0; i < options.stop_size(); ++i) {
    const std::string field = fmt::format("options.stop[{}]", i);
    check_text_field(field, options.stop(i), /*allow_empty=*/false);
    if (options.stop(i).size() > kMaxStopStringBytes)
      throw InvalidArgument(field, fmt::format("at most {} bytes, got {}", kMaxStopStringBytes, options.stop(i).size()));
    request.stop_strings.push_back(options.stop(i));
  }
  check_token_ids("options.stop_token_ids", options.stop_token_ids(), spec.vocab_size, kMaxStopTokens);
  generation.stop_tokens.assign(options.stop_token_ids().begin(), options.stop_token_ids().end());
  generation.logprobs = options.logprobs();
  if (options.has_json_schema()) generation.constraint = json_constraint(options.json_schema(), context);
  return request;
}

void set_prompt(ServingRequest& request, const std::string& field, std::vector<int32_t> prompt,
                const ValidationContext& context) {
  request.generation.prompt = std::move(prompt);
  const auto tokens = static_cast<int64_t>(request.generation.prompt.size());
  if (tokens > context.spec.max_seq_len)
    throw InvalidArgument(field, fmt::format("{} tokens, longer than the model's context of {}", tokens,
                                             context.spec.max_seq_len));
}

}  // namespace

void check_no_unknown_fields(const std::string& path, const google::protobuf::Message& message) {
  const auto& unknown = message.GetReflection()->GetUnknownFields(message);
  if (unknown.field_count() > 0)
    throw InvalidArgument(path.empty() ? message.GetDescriptor()->name() : path,
                          fmt::format("unknown field number {} (not in shardlm.v1's {})", unknown.field(0).number(),
                                      message.GetDescriptor()->name()));
}

void check_text_field(const std::string& field, const std::string& text, bool allow_empty) {
  if (text.empty() && !allow_empty) throw InvalidArgument(field, "is empty");
  if (text.size() > kMaxTextBytes)
    throw InvalidArgument(field, fmt::format("{} bytes, more than the limit of {}", text.size(), kMaxTextBytes));
  for (size_t at = 0; at < text.size();) {
    const Utf8Char c = utf8_decode(text, at);
    if (c.code_point >= kInvalidBase) throw InvalidArgument(field, fmt::format("is not valid UTF-8 (at byte {})", at));
    if (c.code_point == 0) throw InvalidArgument(field, fmt::format("holds a NUL character (at byte {})", at));
    at += c.length;
  }
}

void check_token_ids(const std::string& field, const google::protobuf::RepeatedField<int32_t>& ids,
                     int64_t vocab_size, size_t max_count) {
  if (static_cast<size_t>(ids.size()) > max_count)
    throw InvalidArgument(field, fmt::format("at most {} token ids, got {}", max_count, ids.size()));
  for (int i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab_size)
      throw InvalidArgument(fmt::format("{}[{}]", field, i),
                            fmt::format("token id {} is outside the vocabulary of {}", ids[i], vocab_size));
}

ServingRequest to_serving_request(const shardlm::v1::GenerateRequest& request, const ValidationContext& context) {
  check_no_unknown_fields("", request);
  check_text_field("prompt", request.prompt(), /*allow_empty=*/false);
  ServingRequest serving = from_options(request.options(), context);
  set_prompt(serving, "prompt", context.tokenizer.encode(request.prompt(), /*add_bos=*/true), context);
  return serving;
}

ServingRequest to_serving_request(const shardlm::v1::ChatRequest& request, const ValidationContext& context) {
  check_no_unknown_fields("", request);
  if (context.chat == nullptr)
    throw InvalidArgument("messages", "the model carries no chat template, so it is not a chat model; use Generate");
  if (request.messages_size() == 0) throw InvalidArgument("messages", "is empty");
  if (static_cast<size_t>(request.messages_size()) > kMaxChatMessages)
    throw InvalidArgument("messages", fmt::format("at most {} messages, got {}", kMaxChatMessages, request.messages_size()));
  std::vector<ChatMessage> messages;
  for (int i = 0; i < request.messages_size(); ++i) {
    const auto& message = request.messages(i);
    const std::string path = fmt::format("messages[{}]", i);
    check_no_unknown_fields(path, message);
    if (message.role() != "system" && message.role() != "user" && message.role() != "assistant")
      throw InvalidArgument(path + ".role",
                            fmt::format("must be \"system\", \"user\" or \"assistant\", got \"{}\"", message.role()));
    check_text_field(path + ".content", message.content(), /*allow_empty=*/true);
    messages.push_back({message.role(), message.content()});
  }
  ServingRequest serving = from_options(request.options(), context);
  set_prompt(serving, "messages", context.chat->encode(context.tokenizer, messages, /*add_generation_prompt=*/true),
             context);
  // The assistant's turn ends at the template's end-of-turn marker, as `shardlm chat` ends it.
  const std::string end_of_turn = context.chat->end_of_turn();
  if (!end_of_turn.empty()) {
    const std::vector<int32_t> marker = context.tokenizer.encode(end_of_turn, /*add_bos=*/false);
    if (marker.size() == 1) serving.generation.stop_tokens.push_back(marker[0]);
    serving.stop_strings.push_back(end_of_turn);
  }
  return serving;
}

}  // namespace shardlm::rpc
