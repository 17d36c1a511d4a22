#include "rpc/http/openai_http_server.h"

#include <atomic>
#include <chrono>
#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "rpc/http/openai_responses.h"
#include "rpc/server/bearer_token.h"
#include "runtime/core/check.h"

namespace shardlm::rpc {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll(20);
// While a request has nothing new to send, a byte this often: the write that fails is how a client
// that went away is noticed (a JSON answer takes leading spaces, server-sent events a comment).
constexpr std::chrono::milliseconds kKeepAlive(500);

void send_error(httplib::Response& response, const HttpError& error) {
  response.status = error.status();
  response.set_content(error_body(error.what(), error.type(), error.param()), "application/json");
}

void append(StreamChunk& into, StreamChunk&& more) {
  into.text += more.text;
  into.tokens.insert(into.tokens.end(), more.tokens.begin(), more.tokens.end());
  into.logprobs.insert(into.logprobs.end(), more.logprobs.begin(), more.logprobs.end());
}

// One request's answer, shared by the handler and the content provider that writes it.
struct Answer {
  std::shared_ptr<RequestStream> stream;
  OpenAiRequest request;
  ResponseIdentity identity;
  StreamChunk pending;  // arrived, not yet sent
  std::optional<StreamEnding> ending;
  std::atomic<bool> finished = false;

  bool write(httplib::DataSink& sink, const std::string& bytes) { return sink.write(bytes.data(), bytes.size()); }

  // Writes the whole answer: events as tokens arrive, or the JSON once it ends. False: the client
  // went away (the request is cancelled by the releaser).
  bool run(httplib::DataSink& sink) {
    const bool chat = identity.endpoint == OpenAiEndpoint::chat_completions;
    if (request.stream && chat && !write(sink, role_event(identity))) return false;
    StreamChunk all;  // the whole text, for an answer that does not stream
    auto last_write = Clock::now();
    for (;;) {
      if (request.stream && !pending.empty()) {
        if (!write(sink, chunk_event(identity, pending, request.logprobs))) return false;
        last_write = Clock::now();
      } else if (!request.stream) {
        append(all, std::move(pending));
      }
      pending = {};
      if (ending) break;
      StreamChunk more;
      ending = stream->wait(kPoll, more);
      append(pending, std::move(more));
      // (An answer that does not stream writes nothing while tokens arrive: it needs these too.)
      if ((pending.empty() || !request.stream) && !ending && Clock::now() - last_write >= kKeepAlive) {
        if (!write(sink, request.stream ? ": waiting\n\n" : " ")) return false;
        last_write = Clock::now();
      }
    }
    finished = true;
    if (!request.stream) {
      if (ending->error != StreamEnding::Error::none) {
        const HttpError error = ending_error(*ending);
        if (!write(sink, error_body(error.what(), error.type(), error.param()))) return false;
      } else if (!write(sink, completion_body(identity, all, *ending, request.logprobs))) {
        return false;
      }
    } else if (ending->error != StreamEnding::Error::none) {
      const HttpError error = ending_error(*ending);
      if (!write(sink, "data: " + error_body(error.what(), error.type(), error.param()) + "\n\n")) return false;
    } else {
      if (!write(sink, finish_event(identity, *ending))) return false;
      if (request.include_usage && !write(sink, usage_event(identity, *ending))) return false;
      if (!write(sink, kDoneEvent)) return false;
    }
    sink.done();
    return true;
  }
};

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

OpenAiHttpServer::OpenAiHttpServer(ServingLoop& loop, ServingMetrics& metrics, ValidationContext validation,
                                   HttpServerOptions options)
    : loop_(loop), metrics_(metrics), validation_(validation), options_(std::move(options)) {
  SHARDLM_CHECK(options_.tls_cert_path.empty() == options_.tls_key_path.empty(), "HTTP TLS needs both a certificate and a key");
  if (options_.tls_cert_path.empty()) {
    server_ = std::make_unique<httplib::Server>();
  } else {
    auto tls = std::make_unique<httplib::SSLServer>(options_.tls_cert_path.c_str(), options_.tls_key_path.c_str());
    SHARDLM_CHECK(tls->is_valid(), "HTTP TLS: cannot use the certificate '{}' with the key '{}'", options_.tls_cert_path,
                  options_.tls_key_path);
    server_ = std::move(tls);
  }
  const int threads = options_.threads;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_payload_max_length(2 * kMaxTextBytes);
  server_->set_keep_alive_timeout(2);
  // Each event is a small write: without this, Nagle's algorithm holds one back for the last one's ACK.
  server_->set_tcp_nodelay(true);

  server_->Post("/v1/completions", [this](const httplib::Request& request, httplib::Response& response) {
    generate(OpenAiEndpoint::completions, request, response);
  });
  server_->Post("/v1/chat/completions", [this](const httplib::Request& request, httplib::Response& response) {
    generate(OpenAiEndpoint::chat_completions, request, response);
  });
  server_->Get("/v1/models", [this](const httplib::Request& request, httplib::Response& response) {
    if (!authorized(request, response)) return;
    response.set_content(models_body(options_.model_name, unix_seconds()), "application/json");
  });
  server_->Get("/health", [this](const httplib::Request&, httplib::Response& response) {
    const std::string reason = loop_.not_serving_reason();
    response.status = reason.empty() ? 200 : 503;
    response.set_content(reason.empty() ? R"({"status":"ok"})" : nlohmann::json{{"status", "not serving"}, {"reason", reason}}.dump(),
                         "application/json");
  });
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    response.set_content(metrics_.render(), "text/plain; version=0.0.4");
  });
  // Unknown routes, and errors httplib answers itself (413 for a body over the limit), get an
  // OpenAI error body too.
  server_->set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    if (!response.body.empty()) return;
    const std::string message = response.status == 404 ? fmt::format("no route {} {}", request.method, request.path)
                                                       : fmt::format("HTTP {}", response.status);
    response.set_content(error_body(message, "invalid_request_error", ""), "application/json");
  });
  server_->set_exception_handler([](const httplib::Request&, httplib::Response& response, std::exception_ptr error) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    send_error(response, HttpError(500, "server_error", "", what));
  });

  port_ = options_.port == 0 ? server_->bind_to_any_port(options_.host) : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
  SHARDLM_CHECK(port_ > 0, "HTTP: cannot listen on {}:{} (in use, or not an address of this machine)", options_.host,
                options_.port);
  listener_ = std::thread([this] { server_->listen_after_bind(); });
}

OpenAiHttpServer::~OpenAiHttpServer() { stop(); }

void OpenAiHttpServer::stop() {
  if (!listener_.joinable()) return;
  server_->stop();
  listener_.join();
}

bool OpenAiHttpServer::authorized(const httplib::Request& request, httplib::Response& response) const {
  if (options_.bearer_token.empty()) return true;
  if (!request.has_header("Authorization")) {
    send_error(response, HttpError(401, "authentication_error", "", "missing bearer token (header \"Authorization: Bearer <token>\")"));
    return false;
  }
  if (!bearer_token_matches(request.get_header_value("Authorization"), options_.bearer_token)) {
    send_error(response, HttpError(401, "authentication_error", "", "wrong bearer token"));
    return false;
  }
  return true;
}

void OpenAiHttpServer::generate(OpenAiEndpoint endpoint, const httplib::Request& request, httplib::Response& response) {
  if (!authorized(request, response)) return;
  static std::atomic<int64_t> next_id{1};
  auto answer = std::make_shared<Answer>();
  answer->identity = {endpoint,
                      fmt::format("{}-{}", endpoint == OpenAiEndpoint::chat_completions ? "chatcmpl" : "cmpl", next_id++),
                      unix_seconds(), options_.model_name};
  try {
    answer->request = parse_openai_request(endpoint, request.body, validation_, options_.model_name);
  } catch (const HttpError& error) {
    metrics_.request_ended(ServingMetrics::Outcome::rejected);
    send_error(response, error);
    return;
  }
  try {
    answer->stream = loop_.submit(std::move(answer->request.serving));
  } catch (const QueueFull& error) {
    send_error(response, HttpError(429, "rate_limit_error", "", error.what()));
    return;
  } catch (const NotServing& error) {
    send_error(response, HttpError(503, "server_error", "", error.what()));
    return;
  }
  // The status goes out with the first byte: wait for the first text or the ending, so that a
  // request the engine refuses (larger than the whole KV cache) is answered with its error status.
  while (!answer->ending && answer->pending.empty()) {
    StreamChunk more;
    answer->ending = answer->stream->wait(kPoll, more);
    append(answer->pending, std::move(more));
  }
  if (answer->ending && answer->ending->error != StreamEnding::Error::none && answer->pending.empty()) {
    send_error(response, ending_error(*answer->ending));
    return;
  }
  if (answer->request.stream) response.set_header("Cache-Control", "no-cache");
  response.set_chunked_content_provider(
      answer->request.stream ? "text/event-stream" : "application/json",
      [answer](size_t, httplib::DataSink& sink) { return answer->run(sink); },
      [answer](bool) {
        // The client went away (or the server stops) before the end: free its blocks.
        if (!answer->finished) answer->stream->cancel();
      });
}

}  // namespace shardlm::rpc
