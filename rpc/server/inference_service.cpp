#include "rpc/server/inference_service.h"

#include <chrono>
#include <fmt/format.h>

#include "rpc/server/bearer_token.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::rpc {

namespace v1 = shardlm::v1;

namespace {

constexpr std::chrono::milliseconds kPoll(20);  // how often a handler looks for a gone client

v1::FinishReason to_proto(FinishReason reason) {
  switch (reason) {
    case FinishReason::length: return v1::FINISH_REASON_LENGTH;
    case FinishReason::stop: return v1::FINISH_REASON_STOP;
    case FinishReason::cancelled: return v1::FINISH_REASON_CANCELLED;
    case FinishReason::error: return v1::FINISH_REASON_ERROR;
    default: return v1::FINISH_REASON_UNSPECIFIED;
  }
}

grpc::StatusCode to_code(StreamEnding::Error error) {
  switch (error) {
    case StreamEnding::Error::unavailable: return grpc::StatusCode::UNAVAILABLE;
    case StreamEnding::Error::resource_exhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StreamEnding::Error::invalid_argument: return grpc::StatusCode::INVALID_ARGUMENT;
    default: return grpc::StatusCode::INTERNAL;
  }
}

void fill_final(const StreamEnding& ending, v1::GenerateResponse& message) {
  message.set_finish_reason(ending.error != StreamEnding::Error::none && ending.reason == FinishReason::none
                                ? v1::FINISH_REASON_ERROR
                                : to_proto(ending.reason));
  auto* usage = message.mutable_usage();
  usage->set_prompt_tokens(static_cast<int32_t>(ending.prompt_tokens));
  usage->set_completion_tokens(static_cast<int32_t>(ending.completion_tokens));
  usage->set_cached_prompt_tokens(static_cast<int32_t>(ending.cached_prompt_tokens));
  auto* timings = message.mutable_timings();
  timings->set_queue_ms(ending.queue_ms);
  timings->set_prefill_ms(ending.prefill_ms);
  timings->set_decode_ms(ending.decode_ms);
  timings->set_time_to_first_token_ms(ending.time_to_first_token_ms);
}

void append_chunk(const StreamChunk& chunk, v1::GenerateResponse& message) {
  message.mutable_text()->append(chunk.text);
  message.mutable_token_ids()->Add(chunk.tokens.begin(), chunk.tokens.end());
  message.mutable_logprobs()->Add(chunk.logprobs.begin(), chunk.logprobs.end());
}

// Bad requests are counted as rejected; validation throws InvalidArgument.
template <typename Run>
grpc::Status guarded(ServingMetrics& metrics, Run&& run) {
  try {
    return run();
  } catch (const InvalidArgument& error) {
    metrics.request_ended(ServingMetrics::Outcome::rejected);
    return {grpc::StatusCode::INVALID_ARGUMENT, error.what()};
  } catch (const std::exception& error) {
    return {grpc::StatusCode::INTERNAL, error.what()};
  }
}

}  // namespace

InferenceService::InferenceService(ServingLoop& loop, ServingMetrics& metrics, ValidationContext validation,
                                   ServedModel served, std::string bearer_token)
    : loop_(loop),
      metrics_(metrics),
      validation_(validation),
      served_(std::move(served)),
      bearer_token_(std::move(bearer_token)) {}

grpc::Status InferenceService::authorize(const grpc::ServerContext& context) const {
  if (bearer_token_.empty()) return grpc::Status::OK;
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end())
    return {grpc::StatusCode::UNAUTHENTICATED, "missing bearer token (metadata \"authorization: Bearer <token>\")"};
  if (!bearer_token_matches(std::string_view(found->second.data(), found->second.size()), bearer_token_))
    return {grpc::StatusCode::UNAUTHENTICATED, "wrong bearer token"};
  return grpc::Status::OK;
}

grpc::Status InferenceService::serve(grpc::ServerContext& context, ServingRequest request,
                                     const std::function<bool(const v1::GenerateResponse&)>& write) {
  std::shared_ptr<RequestStream> stream;
  try {
    stream = loop_.submit(std::move(request));
  } catch (const QueueFull& error) {
    return {grpc::StatusCode::RESOURCE_EXHAUSTED, error.what()};
  } catch (const NotServing& error) {
    return {grpc::StatusCode::UNAVAILABLE, error.what()};
  }
  for (;;) {
    StreamChunk chunk;
    const std::optional<StreamEnding> ending = stream->wait(kPoll, chunk);
    if (context.IsCancelled()) {
      // The client cancelled, went away, or its deadline passed: the loop frees its blocks next step.
      stream->cancel();
      const bool late = context.deadline() <= std::chrono::system_clock::now();
      return late ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed")
                  : grpc::Status(grpc::StatusCode::CANCELLED, "cancelled by the client");
    }
    v1::GenerateResponse message;
    append_chunk(chunk, message);
    if (ending) {
      fill_final(*ending, message);
      write(message);
      if (ending->error != StreamEnding::Error::none) return {to_code(ending->error), ending->message};
      return grpc::Status::OK;
    }
    if (!chunk.empty() && !write(message)) {
      stream->cancel();
      return {grpc::StatusCode::CANCELLED, "the client went away"};
    }
  }
}

grpc::Status InferenceService::Generate(grpc::ServerContext* context, const v1::GenerateRequest* request,
                                        grpc::ServerWriter<v1::GenerateResponse>* writer) {
  return stream_back(*context, *request, *writer);
}

grpc::Status InferenceService::Chat(grpc::ServerContext* context, const v1::ChatRequest* request,
                                    grpc::ServerWriter<v1::GenerateResponse>* writer) {
  return stream_back(*context, *request, *writer);
}

template <typename Request>
grpc::Status InferenceService::stream_back(grpc::ServerContext& context, const Request& request,
                                           grpc::ServerWriter<v1::GenerateResponse>& writer) {
  if (auto status = authorize(context); !status.ok()) return status;
  return guarded(metrics_, [&] {
    return serve(context, to_serving_request(request, validation_),
                 [&](const v1::GenerateResponse& message) { return writer.Write(message); });
  });
}

grpc::Status InferenceService::Complete(grpc::ServerContext* context, const v1::GenerateRequest* request,
                                        v1::GenerateResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  return guarded(metrics_, [&] {
    return serve(*context, to_serving_request(*request, validation_), [&](const v1::GenerateResponse& message) {
      response->mutable_text()->append(message.text());
      response->mutable_token_ids()->MergeFrom(message.token_ids());
      response->mutable_logprobs()->MergeFrom(message.logprobs());
      if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) {
        response->set_finish_reason(message.finish_reason());
        *response->mutable_usage() = message.usage();
        *response->mutable_timings() = message.timings();
      }
      return true;
    });
  });
}

grpc::Status InferenceService::Tokenize(grpc::ServerContext* context, const v1::TokenizeRequest* request,
                                        v1::TokenizeResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  return guarded(metrics_, [&] {
    check_no_unknown_fields("", *request);
    check_text_field("text", request->text(), /*allow_empty=*/true);
    const auto ids = validation_.tokenizer.encode(request->text(), request->add_bos());
    response->mutable_token_ids()->Add(ids.begin(), ids.end());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::Detokenize(grpc::ServerContext* context, const v1::DetokenizeRequest* request,
                                          v1::DetokenizeResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  return guarded(metrics_, [&] {
    check_no_unknown_fields("", *request);
    check_token_ids("token_ids", request->token_ids(), validation_.spec.vocab_size, kMaxTextBytes / 4);
    const Tokenizer& tokenizer = validation_.tokenizer;
    const auto& ids = request->token_ids();
    // A leading BOS is not text; it conditions the first piece (as a prompt printed after BOS).
    const bool bos = !ids.empty() && ids[0] == tokenizer.bos();
    TokenTextStream text(tokenizer, bos ? ids[0] : -1);
    std::string out;
    for (int i = bos ? 1 : 0; i < ids.size(); ++i) out += text.push(ids[i]);
    response->set_text(out + text.finish());
    return grpc::Status::OK;
  });
}

grpc::Status InferenceService::ModelInfo(grpc::ServerContext* context, const v1::ModelInfoRequest* request,
                                         v1::ModelInfoResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  const ModelSpec& spec = validation_.spec;
  response->set_model_path(served_.path);
  response->set_architecture(spec.family);
  response->set_vocab_size(spec.vocab_size);
  response->set_hidden(spec.hidden);
  response->set_layers(spec.layers);
  response->set_heads(spec.heads);
  response->set_kv_heads(spec.kv_heads);
  response->set_head_dim(spec.head_dim);
  response->set_ffn_hidden(spec.ffn_hidden);
  response->set_max_seq_len(spec.max_seq_len);
  response->set_positions(spec.position == PositionKind::rope    ? "rope"
                          : spec.position == PositionKind::alibi ? "alibi"
                                                                 : "learned");
  response->set_weight_dtype(served_.weight_dtype);
  response->mutable_parallel()->set_world(served_.world);
  response->mutable_parallel()->set_tp(served_.tp);
  response->mutable_parallel()->set_pp(served_.pp);
  const ServingGauges gauges = metrics_.gauges();
  auto* kv = response->mutable_kv_cache();
  kv->set_dtype(served_.kv_dtype);
  kv->set_block_size(served_.block_size);
  kv->set_num_blocks(gauges.kv_blocks_total);
  kv->set_blocks_in_use(gauges.kv_blocks_in_use);
  kv->set_blocks_free(gauges.kv_blocks_free);
  kv->set_bytes_per_token_per_rank(served_.kv_bytes_per_token);
  kv->set_capacity_tokens(gauges.kv_blocks_total * served_.block_size);
  response->set_max_batch(served_.max_batch);
  response->set_max_queue(served_.max_queue);
  response->set_has_chat_template(validation_.chat != nullptr);
  response->set_weight_bytes_per_rank(served_.weight_bytes);
  return grpc::Status::OK;
}

grpc::Status InferenceService::Health(grpc::ServerContext* context, const v1::HealthRequest* request,
                                      v1::HealthResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  const std::string reason = loop_.not_serving_reason();
  response->set_status(reason.empty() ? v1::HealthResponse::SERVING : v1::HealthResponse::NOT_SERVING);
  response->set_reason(reason);
  return grpc::Status::OK;
}

grpc::Status InferenceService::Metrics(grpc::ServerContext* context, const v1::MetricsRequest* request,
                                       v1::MetricsResponse* response) {
  if (auto status = authorize(*context); !status.ok()) return status;
  response->set_text(metrics_.render());
  return grpc::Status::OK;
}

}  // namespace shardlm::rpc
