#include "rpc/client/inference_client.h"

#include <chrono>
#include <grpcpp/grpcpp.h>

namespace shardlm::rpc {

namespace v1 = shardlm::v1;

InferenceClient::InferenceClient(ClientOptions options) : options_(std::move(options)) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (options_.tls || !options_.tls_root_certificates.empty()) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = options_.tls_root_certificates;
    credentials = grpc::SslCredentials(tls);
  }
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(64 << 20);
  stub_ = v1::Inference::NewStub(grpc::CreateCustomChannel(options_.address, credentials, arguments));
}

void InferenceClient::prepare(grpc::ClientContext& context) const {
  if (!options_.bearer_token.empty()) context.AddMetadata("authorization", "Bearer " + options_.bearer_token);
  if (options_.deadline_seconds) {
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::microseconds(static_cast<int64_t>(*options_.deadline_seconds * 1e6)));
  }
}

template <typename Request>
grpc::Status InferenceClient::stream(std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> (
                                         v1::Inference::Stub::*call)(grpc::ClientContext*, const Request&),
                                     const Request& request,
                                     const std::function<bool(const v1::GenerateResponse&)>& on_response) {
  grpc::ClientContext context;
  prepare(context);
  auto reader = ((*stub_).*call)(&context, request);
  v1::GenerateResponse message;
  while (reader->Read(&message)) {
    if (!on_response(message)) {
      context.TryCancel();
      break;
    }
  }
  return reader->Finish();
}

grpc::Status InferenceClient::generate(const v1::GenerateRequest& request,
                                       const std::function<bool(const v1::GenerateResponse&)>& on_response) {
  return stream(&v1::Inference::Stub::Generate, request, on_response);
}

grpc::Status InferenceClient::chat(const v1::ChatRequest& request,
                                   const std::function<bool(const v1::GenerateResponse&)>& on_response) {
  return stream(&v1::Inference::Stub::Chat, request, on_response);
}

grpc::Status InferenceClient::complete(const v1::GenerateRequest& request, v1::GenerateResponse& response) {
  grpc::ClientContext context;
  prepare(context);
  return stub_->Complete(&context, request, &response);
}

grpc::Status InferenceClient::tokenize(const std::string& text, bool add_bos, std::vector<int32_t>& ids) {
  grpc::ClientContext context;
  prepare(context);
  v1::TokenizeRequest request;
  request.set_text(text);
  request.set_add_bos(add_bos);
  v1::TokenizeResponse response;
  const grpc::Status status = stub_->Tokenize(&context, request, &response);
  ids.assign(response.token_ids().begin(), response.token_ids().end());
  return status;
}

grpc::Status InferenceClient::detokenize(const std::vector<int32_t>& ids, std::string& text) {
  grpc::ClientContext context;
  prepare(context);
  v1::DetokenizeRequest request;
  request.mutable_token_ids()->Add(ids.begin(), ids.end());
  v1::DetokenizeResponse response;
  const grpc::Status status = stub_->Detokenize(&context, request, &response);
  text = response.text();
  return status;
}

grpc::Status InferenceClient::model_info(v1::ModelInfoResponse& response) {
  grpc::ClientContext context;
  prepare(context);
  return stub_->ModelInfo(&context, v1::ModelInfoRequest(), &response);
}

grpc::Status InferenceClient::health(v1::HealthResponse& response) {
  grpc::ClientContext context;
  prepare(context);
  return stub_->Health(&context, v1::HealthRequest(), &response);
}

grpc::Status InferenceClient::metrics(std::string& text) {
  grpc::ClientContext context;
  prepare(context);
  v1::MetricsResponse response;
  const grpc::Status status = stub_->Metrics(&context, v1::MetricsRequest(), &response);
  text = response.text();
  return status;
}

}  // namespace shardlm::rpc
