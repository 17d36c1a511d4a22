// Serving over gRPC and over the OpenAI-compatible HTTP API (server-sent events): tokens/s and time to
// first token at 1, 8 and 32 concurrent streaming clients of a `shardlm serve` process on 127.0.0.1,
// against the same requests run in-process through the same engine options (issue 6's goal: gRPC end
// to end >= 0.95 of in-process throughput; HTTP is set against gRPC). Each client: a distinct short
// prompt, 32 new tokens, greedy. The three runs take turns on the machine.
//   usage: shardlm_serve_bench [model] [threads]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "rpc/client/inference_client.h"
#include "bench/bench_model.h"
#include "bench/server_launch.h"
#include "runtime/core/temp_dir.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model_loader.h"
#include "runtime/plan/kv_budget.h"

using namespace shardlm;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kNewTokens = 32;
constexpr int64_t kMaxBatch = 32, kBlockSize = 16, kMaxStepTokens = 512, kBlocks = 32 * 8;  // 32 x 128 tokens

std::string prompt_of(int i) { return "Story number " + std::to_string(i) + ": Once upon a time"; }

struct Figures {
  double tokens_per_second = 0;
  double mean_ttft_ms = 0, max_ttft_ms = 0;
};

double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

Figures summarise(int64_t tokens, double seconds, std::vector<double> ttft_ms) {
  Figures f;
  f.tokens_per_second = tokens / seconds;
  for (double t : ttft_ms) f.mean_ttft_ms += t / ttft_ms.size();
  f.max_ttft_ms = *std::max_element(ttft_ms.begin(), ttft_ms.end());
  return f;
}

Figures in_process(Decoder& decoder, const Tokenizer& tokenizer, int clients) {
  EngineOptions options;
  options.max_batch = kMaxBatch;
  options.block_size = kBlockSize;
  options.num_blocks = kBlocks;
  options.max_step_tokens = kMaxStepTokens;
  Engine engine(decoder, options);
  const Clock::time_point start = Clock::now();
  std::vector<double> ttft(clients, -1);
  for (int i = 0; i < clients; ++i) {
    GenerationRequest request;
    request.prompt = tokenizer.encode(prompt_of(i), true);
    request.max_new_tokens = kNewTokens;
    request.sampling.temperature = 0;
    engine.submit(std::move(request));
  }
  engine.run_to_completion([&](int64_t id, int32_t) {
    if (ttft[id] < 0) ttft[id] = ms_since(start);
    return true;
  });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return summarise(engine.counters().generated_tokens, seconds, ttft);
}

// Runs `clients` at once. Each first makes its connection (connect(), which returns it as a
// unique_ptr) before the clock starts, then all send together: what is measured is serving, not
// TCP and HTTP/2 set-up, which the in-process run does not have either. send(connection, i, start,
// ttft_ms, tokens) makes client i's request and fills in its time to first token and tokens.
template <typename Connect, typename Send>
Figures race(int clients, Connect connect, Send send) {
  std::vector<double> ttft(clients, -1);
  std::vector<int64_t> tokens(clients, 0);
  std::vector<std::thread> threads;
  std::atomic<int> connected = 0;
  std::atomic<bool> go = false;
  Clock::time_point start;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      auto connection = connect();
      ++connected;
      while (!go) std::this_thread::yield();
      send(*connection, i, start, ttft[i], tokens[i]);
    });
  }
  while (connected < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  go = true;
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t total = 0;
  for (int64_t t : tokens) total += t;
  return summarise(total, seconds, ttft);
}

Figures over_grpc(const std::string& address, int clients) {
  auto connect = [&] {
    rpc::ClientOptions options;
    options.address = address;
    auto client = std::make_unique<rpc::InferenceClient>(options);
    shardlm::v1::HealthResponse health;
    client->health(health);
    return client;
  };
  auto send = [](rpc::InferenceClient& client, int i, Clock::time_point start, double& ttft, int64_t& tokens) {
    shardlm::v1::GenerateRequest request;
    request.set_prompt(prompt_of(i));
    request.mutable_options()->set_max_new_tokens(kNewTokens);
    const grpc::Status status = client.generate(request, [&](const shardlm::v1::GenerateResponse& message) {
      if (ttft < 0 && message.token_ids_size() > 0) ttft = ms_since(start);
      tokens += message.token_ids_size();
      return true;
    });
    if (!status.ok()) std::fprintf(stderr, "request %d failed: %s\n", i, status.error_message().c_str());
  };
  return race(clients, connect, send);
}

Figures over_http(const std::string& url, const std::string& model, int clients) {
  std::smatch match;
  std::regex_match(url, match, std::regex("http://([0-9.]+):([0-9]+)"));
  const std::string host = match[1];
  const int port = std::stoi(match[2]);
  auto connect = [&] {
    auto client = std::make_unique<httplib::Client>(host, port);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // as gRPC does: the request's header and body go out at once
    client->set_read_timeout(600);
    client->Get("/health");
    return client;
  };
  auto send = [&](httplib::Client& client, int i, Clock::time_point start, double& ttft, int64_t& tokens) {
    const nlohmann::json body = {{"model", model}, {"prompt", prompt_of(i)}, {"max_tokens", kNewTokens},
                                 {"temperature", 0}, {"stream", true}, {"stream_options", {{"include_usage", true}}}};
    httplib::Request request;
    request.method = "POST";
    request.path = "/v1/completions";
    request.body = body.dump();
    request.set_header("Content-Type", "application/json");
    std::string events;
    request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
      if (ttft < 0 && std::string_view(data, length).find("\"text\":\"") != std::string_view::npos) ttft = ms_since(start);
      events.append(data, length);
      return true;
    };
    const auto result = client.send(request);
    // The usage event counts the tokens (a text chunk may carry none while a character is incomplete).
    const size_t usage = events.rfind("\"completion_tokens\":");
    if (!result || result->status != 200 || usage == std::string::npos)
      std::fprintf(stderr, "HTTP request %d failed: %s\n", i, events.c_str());
    else
      tokens = std::stoll(events.substr(usage + 20));
  };
  return race(clients, connect, send);
}

}  // namespace

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  Decoder& decoder = *bench.decoder;
  const Tokenizer& tokenizer = *bench.tokenizer;
  const ModelSpec& spec = bench.model.spec;
  std::string address, http_address;
  // The server's pool: the same number of blocks as the in-process engine's.
  const size_t kv_bytes = KvFootprint::of_model(spec, DType::f32).bytes_per_block(kBlockSize) * kBlocks;
  const int server = start_serve_process({"--model", bench.path, "--threads", std::to_string(bench.threads),
                                          "--max-batch", std::to_string(kMaxBatch), "--max-step-tokens",
                                          std::to_string(kMaxStepTokens), "--kv-cache-memory", std::to_string(kv_bytes),
                                          "--http-port", "0", "--served-model-name", "bench"},
                                         address, &http_address);
  std::printf("gRPC and HTTP serving vs in-process: %s, %d threads, %d new tokens per client, greedy, server at %s and %s\n",
              bench.path.c_str(), bench.threads, kNewTokens, address.c_str(), http_address.c_str());
  std::printf("  clients | in-process tok/s  TTFT mean/max ms | gRPC tok/s  TTFT mean/max ms | HTTP tok/s  TTFT mean/max ms"
              " | gRPC / in-process | HTTP / gRPC\n");
  over_grpc(address, 1);  // warm-up: first connection, page faults
  over_http(http_address, "bench", 1);
  for (int clients : {1, 8, 32}) {
    const Figures local = in_process(decoder, tokenizer, clients);
    const Figures remote = over_grpc(address, clients);
    const Figures http = over_http(http_address, "bench", clients);
    std::printf("  %7d | %16.1f  %7.1f / %7.1f | %10.1f  %7.1f / %7.1f | %10.1f  %7.1f / %7.1f | %17.2f | %11.2f\n",
                clients, local.tokens_per_second, local.mean_ttft_ms, local.max_ttft_ms, remote.tokens_per_second,
                remote.mean_ttft_ms, remote.max_ttft_ms, http.tokens_per_second, http.mean_ttft_ms, http.max_ttft_ms,
                remote.tokens_per_second / local.tokens_per_second, http.tokens_per_second / remote.tokens_per_second);
  }
  stop_serve_process(server);
  return 0;
}
