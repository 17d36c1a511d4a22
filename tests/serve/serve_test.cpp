// `shardlm serve` as clients see it, against a real server process on 127.0.0.1: the C++ client
// (library and `shardlm client`) gets offline `shardlm generate`'s text; 64 concurrent streams at
// tp=2 each get their offline greedy text and leave every KV block free; cancelling and deadlines
// free blocks; SIGTERM drains; bearer tokens are enforced.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <thread>

#include "tests/serve/server_process.h"

namespace shardlm::testing {
namespace {

namespace v1 = shardlm::v1;

const std::vector<std::string> kPrompts = {"Once upon a time", "The little dog", "Lily and Tom went to",
                                           "One day, a big bird", "Sue had a red ball", "The sun was hot and",
                                           "Ben liked to eat", "In the park there was"};

// Greedy SmolLM2 goes on counting for thousands of tokens: a request that runs until it is stopped.
const std::string kCounting = "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,";

v1::GenerateRequest greedy_request(const std::string& prompt, int max_new_tokens) {
  v1::GenerateRequest request;
  request.set_prompt(prompt);
  request.mutable_options()->set_max_new_tokens(max_new_tokens);
  return request;
}

// The prompt's echo as `generate` prints it, then the streamed text: what `generate` prints.
std::string generate_over_rpc(rpc::InferenceClient& client, const std::string& prompt, int max_new_tokens,
                              grpc::Status* status = nullptr, v1::GenerateResponse* last = nullptr) {
  std::vector<int32_t> ids;
  std::string echo;
  EXPECT_TRUE(client.tokenize(prompt, true, ids).ok());
  EXPECT_TRUE(client.detokenize(ids, echo).ok());
  std::string text = echo;
  const grpc::Status result = client.generate(greedy_request(prompt, max_new_tokens), [&](const auto& message) {
    text += message.text();
    if (last && message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) *last = message;
    return true;
  });
  if (status) *status = result;
  return text + "\n";
}

int64_t blocks_in_use(rpc::InferenceClient& client) {
  v1::ModelInfoResponse info;
  EXPECT_TRUE(client.model_info(info).ok());
  return info.kv_cache().blocks_in_use();
}

// Polls until no KV block is held, for up to `seconds`; returns the last count.
int64_t wait_for_free_blocks(rpc::InferenceClient& client, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int64_t used = blocks_in_use(client);
  while (used != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    used = blocks_in_use(client);
  }
  return used;
}

TEST(Serve, CppClientsGetTheOfflineText) {
  ServerProcess server({"--model", kStories});
  rpc::InferenceClient client = server.client();
  for (const std::string& prompt : {kPrompts[0], kPrompts[1], kPrompts[2]}) {
    const std::string offline = offline_greedy(kStories, prompt, 40);
    grpc::Status status;
    v1::GenerateResponse last;
    EXPECT_EQ(generate_over_rpc(client, prompt, 40, &status, &last), offline) << prompt;
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(last.usage().completion_tokens(), 40);
    EXPECT_EQ(last.finish_reason(), v1::FINISH_REASON_LENGTH);
    // `shardlm client` prints exactly what `shardlm generate` prints.
    const CliResult cli = run_cli({"client", "--addr", server.address(), "--prompt", prompt, "--max-new-tokens", "40"});
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    EXPECT_EQ(cli.out, offline);
    // Complete: the same text in one answer.
    v1::GenerateResponse whole;
    ASSERT_TRUE(client.complete(greedy_request(prompt, 40), whole).ok());
    EXPECT_EQ(whole.token_ids_size(), 40);
    EXPECT_NE(offline.find(whole.text()), std::string::npos);
  }
  v1::HealthResponse health;
  ASSERT_TRUE(client.health(health).ok());
  EXPECT_EQ(health.status(), v1::HealthResponse::SERVING);
  EXPECT_EQ(run_cli({"client", "--addr", server.address(), "--health"}).exit_code, 0);
  const CliResult stopped = server.stop(30);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
}

TEST(Serve, PythonClientGetsTheOfflineText) {
  ASSERT_TRUE(std::filesystem::exists(SHARDLM_PYTHON)) << SHARDLM_PYTHON << " is missing: run ./launch/install-deps.sh";
  ServerProcess server({"--model", kStories});
  const std::string offline = offline_greedy(kStories, kPrompts[3], 48);
  const CliResult python = run_program({SHARDLM_PYTHON, std::string(SHARDLM_SOURCE_DIR) + "/tests/serve/python_client.py",
                                        "--proto-dir", std::string(SHARDLM_SOURCE_DIR) + "/rpc/proto", "--addr",
                                        server.address(), "--prompt", kPrompts[3], "--max-new-tokens", "48"});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  EXPECT_EQ(python.out, offline);
}

TEST(Serve, SixtyFourConcurrentStreamsAtTp2GetTheirOfflineTextAndFreeEveryBlock) {
  std::map<std::string, std::string> offline;
  for (const auto& prompt : kPrompts) offline[prompt] = offline_greedy(kStories, prompt, 64);
  ServerProcess server({"--model", kStories, "--tp", "2", "--max-batch", "16"}, 2);
  std::vector<std::string> texts(64);
  std::vector<grpc::Status> statuses(64);
  std::vector<std::thread> clients;
  for (int i = 0; i < 64; ++i) {
    clients.emplace_back([&, i] {
      rpc::InferenceClient client = server.client();
      texts[i] = generate_over_rpc(client, kPrompts[i % kPrompts.size()], 64, &statuses[i]);
    });
  }
  for (auto& thread : clients) thread.join();
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(statuses[i].ok()) << i << ": " << statuses[i].error_message();
    EXPECT_EQ(texts[i], offline[kPrompts[i % kPrompts.size()]]) << "request " << i;
  }
  rpc::InferenceClient client = server.client();
  EXPECT_EQ(blocks_in_use(client), 0);
  std::string metrics;
  ASSERT_TRUE(client.metrics(metrics).ok());
  EXPECT_NE(metrics.find("shardlm_requests_total{outcome=\"length\"} 64"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("shardlm_kv_blocks_used 0"), std::string::npos) << metrics;
  // Rank 0's device memory (the host's, here) holds at least its KV pool: per block of 16 tokens, its
  // 2 of stories260K's 4 KV heads x 8 dims x 5 layers x K and V x 4 bytes = 10,240 bytes.
  auto value = [&](const std::string& pattern) {
    std::smatch match;
    return std::regex_search(metrics, match, std::regex(pattern)) ? std::stod(match[1]) : -1.0;
  };
  const double blocks = value("shardlm_kv_blocks_total ([0-9]+)");
  const double held = value("shardlm_device_memory_bytes\\{device=\"cpu\"\\} ([0-9]+)");
  const double peak = value("shardlm_device_memory_peak_bytes\\{device=\"cpu\"\\} ([0-9]+)");
  ASSERT_GT(blocks, 0) << metrics;
  EXPECT_GE(held, blocks * 10240) << metrics;
  EXPECT_GE(peak, held) << metrics;
}

TEST(Serve, CancellingAndDeadlinesFreeTheBlocks) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M"});
  rpc::InferenceClient client = server.client();
  // A client that stops reading after three tokens (cancelling its call).
  int seen = 0;
  const grpc::Status cancelled = client.generate(greedy_request(kCounting, 2000),
                                                 [&](const auto& message) { return (seen += message.token_ids_size()) < 3; });
  EXPECT_EQ(cancelled.error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(wait_for_free_blocks(client, 5), 0) << "blocks still held after the client cancelled";
  // A deadline that passes mid-generation.
  rpc::ClientOptions with_deadline;
  with_deadline.deadline_seconds = 1.0;
  rpc::InferenceClient hurried = server.client(with_deadline);
  const grpc::Status late = hurried.generate(greedy_request(kCounting, 2000),
                                             [](const auto&) { return true; });
  EXPECT_EQ(late.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(wait_for_free_blocks(client, 5), 0) << "blocks still held after the deadline passed";
  std::string metrics;
  ASSERT_TRUE(client.metrics(metrics).ok());
  EXPECT_NE(metrics.find("shardlm_requests_total{outcome=\"cancelled\"} 2"), std::string::npos) << metrics;
  // The server still answers.
  v1::GenerateResponse whole;
  EXPECT_TRUE(client.complete(greedy_request("Hello", 4), whole).ok());
}

// A client process killed mid-stream (its connection dropped, no cancel sent) is noticed by the
// server, which ends the request and frees its blocks; others are served as before.
TEST(Serve, AClientKilledMidStreamFreesItsBlocks) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M"});
  rpc::InferenceClient client = server.client();
  Background streaming = start_program(
      {SHARDLM_BINARY, "client", "--addr", server.address(), "--prompt", kCounting, "--max-new-tokens", "2000"});
  for (int i = 0; i < 600 && read_file(streaming.out_path).size() <= kCounting.size(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GT(read_file(streaming.out_path).size(), kCounting.size()) << "no tokens streamed: " << read_file(streaming.err_path);
  EXPECT_GT(blocks_in_use(client), 0);
  kill(streaming.pid, SIGKILL);
  streaming.wait(10);
  EXPECT_EQ(wait_for_free_blocks(client, 10), 0) << "blocks still held after the client died";
  std::string metrics;
  ASSERT_TRUE(client.metrics(metrics).ok());
  EXPECT_NE(metrics.find("shardlm_requests_total{outcome=\"cancelled\"} 1"), std::string::npos) << metrics;
  v1::GenerateResponse whole;
  EXPECT_TRUE(client.complete(greedy_request("Hello", 4), whole).ok());
}

// A server killed outright (no drain) leaves nothing behind that stops the next: restarted on the
// same port, it serves at once.
TEST(Serve, AServerKilledOutrightRestartsOnItsPortAndServes) {
  const std::vector<std::string> args = {"--model", kStories, "--kv-cache-memory", "64M"};
  auto first = std::make_unique<ServerProcess>(args);
  const std::string address = first->address(), port = address.substr(address.rfind(':') + 1);
  rpc::InferenceClient before = first->client();
  grpc::Status in_flight;
  std::atomic<bool> started = false;
  std::thread streaming([&] {
    in_flight = before.generate(greedy_request("Once upon a time", 400), [&](const auto&) {
      started = true;
      return true;
    });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  first->kill_now();
  streaming.join();
  EXPECT_FALSE(in_flight.ok()) << "a stream survived its server";
  first.reset();
  ServerProcess second(args, 1, port);
  EXPECT_EQ(second.address(), address);
  rpc::InferenceClient after = second.client();
  v1::HealthResponse health;
  ASSERT_TRUE(after.health(health).ok());
  EXPECT_EQ(health.status(), v1::HealthResponse::SERVING);
  EXPECT_EQ(generate_over_rpc(after, "Once upon a time", 24), offline_greedy(kStories, "Once upon a time", 24));
}

TEST(Serve, AFullQueueAnswersResourceExhaustedAtOnce) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--max-queue", "1", "--kv-cache-memory", "256M", "--drain-seconds", "1"});
  rpc::InferenceClient client = server.client();
  std::atomic<bool> started = false;
  std::thread busy([&] {
    rpc::InferenceClient first = server.client();
    first.generate(greedy_request(kCounting, 2000), [&](const auto&) {
      started = true;
      return true;
    });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const auto asked = std::chrono::steady_clock::now();
  v1::GenerateResponse response;
  const grpc::Status refused = client.complete(greedy_request("Hello", 4), response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count(), 1.0);
  // SIGTERM with a short drain: the running request is cancelled with a status, and the server exits 0.
  const auto result = server.stop(60);
  busy.join();
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(Serve, SigtermCancelsWhatOutlastsTheDrainWithAStatus) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--drain-seconds", "0.5", "--kv-cache-memory", "256M"});
  rpc::InferenceClient client = server.client();
  std::atomic<bool> started = false;
  grpc::Status status;
  v1::FinishReason reason = v1::FINISH_REASON_UNSPECIFIED;
  std::thread running([&] {
    status = client.generate(greedy_request(kCounting, 2000), [&](const auto& message) {
      started = true;
      if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) reason = message.finish_reason();
      return true;
    });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const CliResult result = server.stop(30);
  running.join();
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(reason, v1::FINISH_REASON_CANCELLED);
  EXPECT_NE(result.err.find("shutting down"), std::string::npos) << result.err;
}

TEST(Serve, BearerTokenIsRequired) {
  ServerProcess server({"--model", kStories, "--auth-token", "s3cret-token"});
  rpc::ClientOptions none, wrong, right;
  wrong.bearer_token = "guess";
  right.bearer_token = "s3cret-token";
  v1::HealthResponse health;
  EXPECT_EQ(server.client(none).health(health).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.client(wrong).health(health).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::GenerateResponse response;
  EXPECT_EQ(server.client(wrong).complete(greedy_request("Hi", 2), response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(server.client(right).health(health).ok());
  EXPECT_TRUE(server.client(right).complete(greedy_request("Hi", 2), response).ok());
  EXPECT_EQ(run_cli({"client", "--addr", server.address(), "--health"}).exit_code, 1);
  EXPECT_EQ(run_cli({"client", "--addr", server.address(), "--health", "--token", "s3cret-token"}).exit_code, 0);
}

TEST(Serve, KillingARankTurnsHealthNotServingAndEndsInFlightRequests) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--tp", "2", "--kv-cache-memory", "256M", "--rank-timeout-seconds", "5"}, 2);
  rpc::InferenceClient client = server.client();
  std::atomic<bool> started = false;
  grpc::Status status;
  std::thread running([&] {
    status = client.generate(greedy_request(kCounting, 2000), [&](const auto&) {
      started = true;
      return true;
    });
  });
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int victim = server.rank_pid(1);
  ASSERT_GT(victim, 0);
  kill(victim, SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  running.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count(), 10.0);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_NE(status.error_message().find("rank 1"), std::string::npos) << status.error_message();
  v1::HealthResponse health;
  ASSERT_TRUE(client.health(health).ok());
  EXPECT_EQ(health.status(), v1::HealthResponse::NOT_SERVING);
  EXPECT_EQ(run_cli({"client", "--addr", server.address(), "--health"}).exit_code, 1);
  v1::GenerateResponse response;
  EXPECT_EQ(client.complete(greedy_request("Hi", 2), response).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(Serve, TlsServesOnlyTls) {
  const std::string dir = temp_dir();
  const CliResult made = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                      dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "1", "-subj",
                                      "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ServerProcess server({"--model", kStories, "--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  rpc::ClientOptions tls;
  tls.tls_root_certificates = read_file(dir + "/cert.pem");
  tls.deadline_seconds = 10;
  v1::GenerateResponse response;
  const grpc::Status secured = server.client(tls).complete(greedy_request(kPrompts[0], 16), response);
  ASSERT_TRUE(secured.ok()) << secured.error_message();
  EXPECT_NE(offline_greedy(kStories, kPrompts[0], 16).find(response.text()), std::string::npos);
  rpc::ClientOptions plain;
  plain.deadline_seconds = 5;
  v1::HealthResponse health;
  EXPECT_FALSE(server.client(plain).health(health).ok()) << "a plain-text client was answered by a TLS server";
  const CliResult cli = run_cli({"client", "--addr", server.address(), "--tls-ca", dir + "/cert.pem", "--health"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
}

TEST(Serve, ClientChatAnswersAsOfflineChat) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  const std::string turns = "What is the capital of France?\nAnd of Germany?\n";
  const CliResult offline = run_cli({"chat", "--model", kSmolLm2, "--temperature", "0", "--max-new-tokens", "24"}, turns);
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M"});
  const CliResult online =
      run_cli({"client", "chat", "--addr", server.address(), "--max-new-tokens", "24"}, turns);
  ASSERT_EQ(online.exit_code, 0) << online.err;
  EXPECT_EQ(online.out, offline.out);
  // The second turn reused the first turn's blocks on the server, as `shardlm chat` does offline.
  std::string metrics;
  ASSERT_TRUE(server.client().metrics(metrics).ok());
  EXPECT_EQ(metrics.find("shardlm_cached_prompt_tokens_total 0\n"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace shardlm::testing
