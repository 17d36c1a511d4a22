// The OpenAI-compatible HTTP API of `shardlm serve --http-port N`, on the same serving loop (and so
// the same continuous batch) as gRPC:
//   POST /v1/completions, POST /v1/chat/completions   (JSON, or server-sent events with "stream": true)
//   GET  /v1/models, GET /health, GET /metrics
// Requests pass the gRPC API's checks (a bad field answers 400 with an OpenAI error body naming it);
// a client that goes away cancels its request, freeing its KV blocks at the next step. With a bearer
// token, every /v1/ route needs "Authorization: Bearer <token>" (/health and /metrics stay open to
// probes, as a load balancer's would be). TLS with the same certificate as gRPC.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "rpc/http/openai_requests.h"
#include "rpc/server/serving_loop.h"
#include "rpc/server/serving_metrics.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace shardlm::rpc {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                              // 0: a free one (port() says which)
  std::string tls_cert_path, tls_key_path;   // both or neither
  std::string bearer_token;                  // empty: no token needed
  std::string model_name;                    // what /v1/models lists and requests must name
  int threads = 64;                          // connections served at once
};

class OpenAiHttpServer {
 public:
  // Binds and starts answering on a thread of its own; throws naming the address when it cannot.
  OpenAiHttpServer(ServingLoop& loop, ServingMetrics& metrics, ValidationContext validation, HttpServerOptions options);
  ~OpenAiHttpServer();

  int port() const { return port_; }
  // Stops listening and waits for every connection's handler to return (the serving loop must
  // already be ending the requests in flight: ServingLoop::shut_down).
  void stop();

 private:
  void generate(OpenAiEndpoint endpoint, const httplib::Request& request, httplib::Response& response);
  bool authorized(const httplib::Request& request, httplib::Response& response) const;

  ServingLoop& loop_;
  ServingMetrics& metrics_;
  ValidationContext validation_;
  HttpServerOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread listener_;
  int port_ = 0;
};

}  // namespace shardlm::rpc
