// The C++ client of shardlm.v1.Inference: a channel (plain or TLS), the bearer token on every call,
// and an optional deadline. A thin layer over the generated stub, so callers see the API's own
// messages and statuses.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "shardlm/v1/inference.grpc.pb.h"

namespace shardlm::rpc {

struct ClientOptions {
  std::string address;                    // host:port
  std::string bearer_token;               // empty: none sent
  std::string tls_root_certificates;      // PEM; empty: a plain channel unless `tls`
  bool tls = false;                       // TLS with the system's roots when no certificates are given
  std::optional<double> deadline_seconds; // per call
};

class InferenceClient {
 public:
  explicit InferenceClient(ClientOptions options);

  // Streams: on_response sees every message; returning false cancels the call.
  grpc::Status generate(const shardlm::v1::GenerateRequest& request,
                        const std::function<bool(const shardlm::v1::GenerateResponse&)>& on_response);
  grpc::Status chat(const shardlm::v1::ChatRequest& request,
                    const std::function<bool(const shardlm::v1::GenerateResponse&)>& on_response);
  grpc::Status complete(const shardlm::v1::GenerateRequest& request, shardlm::v1::GenerateResponse& response);
  grpc::Status tokenize(const std::string& text, bool add_bos, std::vector<int32_t>& ids);
  grpc::Status detokenize(const std::vector<int32_t>& ids, std::string& text);
  grpc::Status model_info(shardlm::v1::ModelInfoResponse& response);
  grpc::Status health(shardlm::v1::HealthResponse& response);
  grpc::Status metrics(std::string& text);

 private:
  void prepare(grpc::ClientContext& context) const;
  template <typename Request>
  grpc::Status stream(std::unique_ptr<grpc::ClientReader<shardlm::v1::GenerateResponse>> (
                          shardlm::v1::Inference::Stub::*call)(grpc::ClientContext*, const Request&),
                      const Request& request,
                      const std::function<bool(const shardlm::v1::GenerateResponse&)>& on_response);

  ClientOptions options_;
  std::unique_ptr<shardlm::v1::Inference::Stub> stub_;
};

}  // namespace shardlm::rpc
