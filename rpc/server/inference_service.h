// The gRPC service rank 0 answers (shardlm.v1.Inference). Handlers run on gRPC's threads: they check
// the bearer token, validate the request, hand it to the serving loop and stream its tokens back,
// cancelling it when the client goes away or its deadline passes.
#pragma once

#include <string>

#include "rpc/server/request_validation.h"
#include "rpc/server/serving_loop.h"
#include "rpc/server/serving_metrics.h"
#include "shardlm/v1/inference.grpc.pb.h"

namespace shardlm::rpc {

// What ModelInfo reports besides the live KV figures.
struct ServedModel {
  std::string path;
  std::string weight_dtype;
  int world = 1, tp = 1, pp = 1;
  int64_t block_size = 0;
  std::string kv_dtype = "f32";    // what the KV pool stores
  int64_t kv_bytes_per_token = 0;  // rank 0's share
  int64_t weight_bytes = 0;        // rank 0's share
  int64_t max_batch = 0, max_queue = 0;
};

class InferenceService final : public shardlm::v1::Inference::Service {
 public:
  // `bearer_token` empty: no token is asked for.
  InferenceService(ServingLoop& loop, ServingMetrics& metrics, ValidationContext validation, ServedModel served,
                   std::string bearer_token);

  grpc::Status Generate(grpc::ServerContext* context, const shardlm::v1::GenerateRequest* request,
                        grpc::ServerWriter<shardlm::v1::GenerateResponse>* writer) override;
  grpc::Status Complete(grpc::ServerContext* context, const shardlm::v1::GenerateRequest* request,
                        shardlm::v1::GenerateResponse* response) override;
  grpc::Status Chat(grpc::ServerContext* context, const shardlm::v1::ChatRequest* request,
                    grpc::ServerWriter<shardlm::v1::GenerateResponse>* writer) override;
  grpc::Status Tokenize(grpc::ServerContext* context, const shardlm::v1::TokenizeRequest* request,
                        shardlm::v1::TokenizeResponse* response) override;
  grpc::Status Detokenize(grpc::ServerContext* context, const shardlm::v1::DetokenizeRequest* request,
                          shardlm::v1::DetokenizeResponse* response) override;
  grpc::Status ModelInfo(grpc::ServerContext* context, const shardlm::v1::ModelInfoRequest* request,
                         shardlm::v1::ModelInfoResponse* response) override;
  grpc::Status Health(grpc::ServerContext* context, const shardlm::v1::HealthRequest* request,
                      shardlm::v1::HealthResponse* response) override;
  grpc::Status Metrics(grpc::ServerContext* context, const shardlm::v1::MetricsRequest* request,
                       shardlm::v1::MetricsResponse* response) override;

 private:
  grpc::Status authorize(const grpc::ServerContext& context) const;
  // Generate and Chat: validate, run, and stream every message back.
  template <typename Request>
  grpc::Status stream_back(grpc::ServerContext& context, const Request& request,
                           grpc::ServerWriter<shardlm::v1::GenerateResponse>& writer);
  // Runs a validated request; `write` sends one message (false: the client is gone). With `whole`,
  // every message is merged into one, written at the end (Complete).
  grpc::Status serve(grpc::ServerContext& context, ServingRequest request,
                     const std::function<bool(const shardlm::v1::GenerateResponse&)>& write);

  ServingLoop& loop_;
  ServingMetrics& metrics_;
  ValidationContext validation_;
  ServedModel served_;
  std::string bearer_token_;
};

}  // namespace shardlm::rpc
