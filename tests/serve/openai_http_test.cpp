// The OpenAI-compatible HTTP API of `shardlm serve --http-port`, as its users' clients see it: the
// official openai Python package and curl get `shardlm generate`'s and `shardlm chat`'s greedy text,
// streamed and not; every field is checked with a 400 naming it, and the server serves on; a client
// that goes away frees its KV blocks; the bearer token and TLS are enforced.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <httplib.h>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "tests/serve/server_process.h"

namespace shardlm::testing {
namespace {

using nlohmann::json;

const std::string kPython = SHARDLM_PYTHON;
const std::string kOpenAiClient = std::string(SHARDLM_SOURCE_DIR) + "/tests/serve/openai_client.py";
const std::string kStoriesName = "stories260K.bin";
const std::string kSmolName = "SmolLM2-135M-Instruct.Q4_1.gguf";

// "http://127.0.0.1:PORT" -> "127.0.0.1", PORT
std::pair<std::string, int> host_and_port(const std::string& url) {
  std::smatch match;
  const std::regex pattern("https?://([0-9.]+):([0-9]+)");
  EXPECT_TRUE(std::regex_match(url, match, pattern)) << url;
  return {match[1], std::stoi(match[2])};
}

httplib::Client plain_client(const ServerProcess& server) {
  const auto [host, port] = host_and_port(server.http_address());
  httplib::Client client(host, port);
  client.set_read_timeout(60);
  return client;
}

// The value of a Prometheus line "name value" in GET /metrics.
int64_t metric(const ServerProcess& server, const std::string& name) {
  httplib::Client client = plain_client(server);
  const auto response = client.Get("/metrics");
  EXPECT_TRUE(response && response->status == 200);
  if (!response) return -1;
  std::smatch match;
  const std::regex line("\n" + std::regex_replace(name, std::regex(R"([{}"=])"), R"(\$&)") + " ([0-9]+)");
  return std::regex_search(response->body, match, line) ? std::stoll(match[1]) : -1;
}

// Polls until no KV block is held, for up to `seconds`; returns the last count.
int64_t wait_for_free_blocks(const ServerProcess& server, double seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int64_t used = metric(server, "shardlm_kv_blocks_used");
  while (used != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    used = metric(server, "shardlm_kv_blocks_used");
  }
  return used;
}

// Concatenated choices[0].text (or delta.content) of a server-sent event stream ending in [DONE].
std::string text_of_events(const std::string& events, bool* done) {
  std::string text;
  *done = false;
  std::istringstream lines(events);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) != 0) continue;
    const std::string data = line.substr(6);
    if (data == "[DONE]") {
      *done = true;
      continue;
    }
    const json chunk = json::parse(data);
    for (const json& choice : chunk.at("choices")) {
      if (choice.contains("text")) text += choice["text"].get<std::string>();
      if (choice.contains("delta") && choice["delta"].contains("content"))
        text += choice["delta"]["content"].get<std::string>();
    }
  }
  return text;
}

TEST(OpenAiHttp, OpenAiPythonClientGetsTheOfflineText) {
  ASSERT_TRUE(std::filesystem::exists(kPython)) << kPython << " is missing: run ./launch/install-deps.sh";
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  const std::string prompt = "The capital of France is", question = "What is 2+2?";
  const std::string offline = offline_greedy(kSmolLm2, prompt, 24);
  const CliResult offline_chat =
      run_cli({"chat", "--model", kSmolLm2, "--temperature", "0", "--max-new-tokens", "24"}, question + "\n");
  ASSERT_EQ(offline_chat.exit_code, 0) << offline_chat.err;

  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M", "--http-port", "0"});
  ASSERT_FALSE(server.http_address().empty()) << server.err();
  const CliResult python = run_program({kPython, kOpenAiClient, "--base-url", server.http_address() + "/v1", "--prompt",
                                        prompt, "--chat", question, "--max-tokens", "24"});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  const json result = json::parse(python.out);
  EXPECT_EQ(result["models"], json::array({kSmolName}));
  // `generate` prints the prompt, then the continuation, then a newline; `chat` the reply and a newline.
  EXPECT_EQ(prompt + result["completion"].get<std::string>() + "\n", offline);
  EXPECT_EQ(result["completion_streamed"], result["completion"]);
  EXPECT_EQ(result["completion_finish"], "length");
  EXPECT_EQ(result["completion_streamed_finish"], "length");
  EXPECT_EQ(result["completion_usage"][1], 24);
  EXPECT_EQ(result["completion_usage"][2], result["completion_usage"][0].get<int>() + 24);
  EXPECT_EQ(result["chat"].get<std::string>() + "\n", offline_chat.out);
  EXPECT_EQ(result["chat_role"], "assistant");
  EXPECT_EQ(result["chat_streamed"], result["chat"]);
  // The reply may end (its end-of-turn token) before 24 tokens; the usage counts what it was.
  EXPECT_GT(result["chat_streamed_usage"][1].get<int>(), 0);
  EXPECT_LE(result["chat_streamed_usage"][1].get<int>(), 24);
  EXPECT_EQ(result["bad_request"], json({{"status", 400}, {"param", "top_p"}}));
  const json structured = json::parse(result["structured"].get<std::string>(), nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(structured.is_discarded()) << result["structured"];
  EXPECT_TRUE(structured.contains("answer") && structured["answer"].is_number_integer()) << structured;
  EXPECT_EQ(result["structured_finish"], "stop");
  EXPECT_EQ(wait_for_free_blocks(server, 10), 0);
}

TEST(OpenAiHttp, CurlGetsTheOfflineText) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/curl")) << "curl is missing: run ./launch/install-deps.sh";
  const std::string prompt = "Once upon a time";
  const std::string offline = offline_greedy(kStories, prompt, 40);
  ServerProcess server({"--model", kStories, "--http-port", "0"});
  const std::string body = json{{"model", kStoriesName}, {"prompt", prompt}, {"max_tokens", 40}, {"temperature", 0}}.dump();
  const CliResult whole = run_program({"/usr/bin/curl", "-sS", "--fail-with-body", server.http_address() + "/v1/completions",
                                       "-H", "Content-Type: application/json", "-d", body});
  ASSERT_EQ(whole.exit_code, 0) << whole.err << whole.out;
  const json answer = json::parse(whole.out);
  EXPECT_EQ(answer["object"], "text_completion");
  EXPECT_EQ(prompt + answer["choices"][0]["text"].get<std::string>() + "\n", offline);

  json streaming = json::parse(body);
  streaming["stream"] = true;
  const CliResult streamed = run_program({"/usr/bin/curl", "-sSN", "--fail-with-body", server.http_address() + "/v1/completions",
                                          "-H", "Content-Type: application/json", "-d", streaming.dump()});
  ASSERT_EQ(streamed.exit_code, 0) << streamed.err << streamed.out;
  bool done = false;
  EXPECT_EQ(prompt + text_of_events(streamed.out, &done) + "\n", offline);
  EXPECT_TRUE(done) << "the stream did not end with data: [DONE]";
}

TEST(OpenAiHttp, EveryFieldIsCheckedNamingItAndTheServerServesOn) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M", "--http-port", "0"});
  httplib::Client client = plain_client(server);
  const json completion = {{"model", kSmolName}, {"prompt", "Hi"}, {"max_tokens", 4}};
  const json chat = {{"model", kSmolName}, {"messages", {{{"role", "user"}, {"content", "Hi"}}}}, {"max_tokens", 4}};
  struct Case {
    const char* path;
    json body;
    int status;
    json param;  // the field named (null: none)
  };
  auto with = [](json body, const std::string& key, json value) {
    body[key] = std::move(value);
    return body;
  };
  json no_model = completion;
  no_model.erase("model");
  json no_messages = chat;
  no_messages.erase("messages");
  const std::vector<Case> cases = {
      {"/v1/completions", no_model, 400, "model"},
      {"/v1/completions", with(completion, "model", "gpt-4"), 404, "model"},
      {"/v1/completions", with(completion, "prompt", 5), 400, "prompt"},
      {"/v1/completions", with(completion, "prompt", ""), 400, "prompt"},
      {"/v1/completions", with(completion, "temperature", "hot"), 400, "temperature"},
      {"/v1/completions", with(completion, "temperature", -1), 400, "temperature"},
      {"/v1/completions", with(completion, "top_p", 0), 400, "top_p"},
      {"/v1/completions", with(completion, "top_k", -2), 400, "top_k"},
      {"/v1/completions", with(completion, "min_p", 1), 400, "min_p"},
      {"/v1/completions", with(completion, "max_tokens", 0), 400, "max_tokens"},
      {"/v1/completions", with(completion, "max_tokens", 2.5), 400, "max_tokens"},
      {"/v1/completions", with(completion, "seed", -1), 400, "seed"},
      {"/v1/completions", with(completion, "stop", json::array({"ok", ""})), 400, "stop[1]"},
      {"/v1/completions", with(completion, "stop", json::array({1})), 400, "stop[0]"},
      {"/v1/completions", with(completion, "stop_token_ids", json::array({1 << 30})), 400, "stop_token_ids[0]"},
      {"/v1/completions", with(completion, "n", 2), 400, "n"},
      {"/v1/completions", with(completion, "logprobs", 3), 400, "logprobs"},
      {"/v1/completions", with(completion, "frequency_penalty", 0.5), 400, "frequency_penalty"},
      {"/v1/completions", with(completion, "stream_options", {{"include_usage", true}}), 400, "stream_options"},
      {"/v1/completions", with(completion, "response_format", {{"type", "xml"}}), 400, "response_format.type"},
      {"/v1/completions", with(completion, "bogus", 1), 400, "bogus"},
      {"/v1/chat/completions", no_messages, 400, "messages"},
      {"/v1/chat/completions", with(chat, "messages", json::array()), 400, "messages"},
      {"/v1/chat/completions", with(chat, "messages", {{{"role", "robot"}, {"content", "Hi"}}}), 400, "messages[0].role"},
      {"/v1/chat/completions", with(chat, "messages", {{{"role", "user"}, {"content", 5}}}), 400, "messages[0].content"},
      {"/v1/chat/completions", with(chat, "messages", {{{"role", "user"}, {"content", "Hi"}, {"x", 1}}}), 400, "messages[0].x"},
      {"/v1/chat/completions", with(chat, "messages", {{{"role", "user"}, {"content", {{{"type", 5}, {"text", "Hi"}}}}}}), 400,
       "messages[0].content[0]"},
      {"/v1/completions", with(completion, "max_tokens", 18446744073709551615ull), 400, "max_tokens"},
      {"/v1/chat/completions", with(chat, "max_completion_tokens", 0), 400, "max_completion_tokens"},
      {"/v1/chat/completions", with(chat, "tools", json::array({{{"type", "function"}}})), 400, "tools"},
  };
  for (const Case& c : cases) {
    const auto response = client.Post(c.path, c.body.dump(), "application/json");
    ASSERT_TRUE(response) << c.body.dump();
    EXPECT_EQ(response->status, c.status) << c.body.dump() << " -> " << response->body;
    const json error = json::parse(response->body, nullptr, false);
    ASSERT_TRUE(error.contains("error")) << response->body;
    EXPECT_EQ(error["error"]["param"], c.param) << c.body.dump() << " -> " << response->body;
    EXPECT_FALSE(error["error"]["message"].get<std::string>().empty());
  }
  // Not JSON, invalid UTF-8, an unknown route: errors in the same shape.
  for (const std::string& body : {std::string("{bad"), std::string("{\"model\": \"") + kSmolName + "\", \"prompt\": \"\xff\"}"}) {
    const auto response = client.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(response);
    EXPECT_EQ(response->status, 400) << response->body;
    EXPECT_TRUE(json::parse(response->body, nullptr, false).contains("error")) << response->body;
  }
  const auto unknown = client.Get("/v2/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_TRUE(json::parse(unknown->body, nullptr, false).contains("error")) << unknown->body;
  // Every refusal was counted, and the server still answers well-formed requests.
  EXPECT_EQ(metric(server, "shardlm_requests_total{outcome=\"rejected\"}"), static_cast<int64_t>(cases.size()) + 2);
  const auto good = client.Post("/v1/chat/completions", chat.dump(), "application/json");
  ASSERT_TRUE(good);
  EXPECT_EQ(good->status, 200) << good->body;
  EXPECT_EQ(json::parse(good->body)["usage"]["completion_tokens"], 4);
  const auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST(OpenAiHttp, ResponseFormatGivesJsonTheSchemaAccepts) {
  // stories260K never writes JSON by itself; sampled under a schema it must.
  ServerProcess server({"--model", kStories, "--http-port", "0"});
  httplib::Client client = plain_client(server);
  const json schema = {{"type", "object"},
                       {"properties",
                        {{"hero", {{"type", "string"}, {"maxLength", 20}}},
                         {"age", {{"type", "integer"}}},
                         {"friends", {{"type", "array"}, {"items", {{"type", "string"}, {"maxLength", 8}}}, {"maxItems", 2}}},
                         {"brave", {{"type", "boolean"}}}}},
                       {"required", {"hero", "brave"}}};
  for (int seed = 0; seed < 6; ++seed) {
    const json body = {{"model", kStoriesName}, {"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 1},
                       {"seed", seed}, {"stream", seed % 2 == 1},
                       {"response_format", {{"type", "json_schema"}, {"json_schema", {{"name", "story"}, {"schema", schema}}}}}};
    const auto response = client.Post("/v1/completions", body.dump(), "application/json");
    ASSERT_TRUE(response && response->status == 200) << (response ? response->body : "no answer");
    bool done = true;
    const std::string text = seed % 2 == 1 ? text_of_events(response->body, &done)
                                           : json::parse(response->body)["choices"][0]["text"].get<std::string>();
    EXPECT_TRUE(done);
    const json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(value.is_object()) << text;
    EXPECT_TRUE(value["hero"].is_string()) << text;
    EXPECT_TRUE(value["brave"].is_boolean()) << text;
    if (value.contains("age")) {
      EXPECT_TRUE(value["age"].is_number_integer()) << text;
    }
    for (const auto& [key, item] : value.items()) EXPECT_TRUE(schema["properties"].contains(key)) << text;
  }
  const json any_object = {{"model", kStoriesName}, {"prompt", "Once"}, {"max_tokens", 300}, {"temperature", 0},
                           {"response_format", {{"type", "json_object"}}}};
  const auto object = client.Post("/v1/completions", any_object.dump(), "application/json");
  ASSERT_TRUE(object && object->status == 200);
  const json answer = json::parse(object->body);
  // Unbounded strings may run to max_tokens; if the value ended, it is a JSON object.
  if (answer["choices"][0]["finish_reason"] == "stop") {
    EXPECT_TRUE(json::parse(answer["choices"][0]["text"].get<std::string>()).is_object()) << answer;
  }
  // A schema keyword it cannot honour is refused, naming it.
  const json unsupported = {{"model", kStoriesName}, {"prompt", "Once"},
                            {"response_format", {{"type", "json_schema"}, {"json_schema", {{"schema", {{"type", "integer"}, {"minimum", 3}}}}}}}};
  const auto refused = client.Post("/v1/completions", unsupported.dump(), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_EQ(json::parse(refused->body)["error"]["param"], "response_format");
  EXPECT_NE(refused->body.find("minimum"), std::string::npos) << refused->body;
}

TEST(OpenAiHttp, AClientThatGoesAwayFreesItsBlocks) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "256M", "--http-port", "0"});
  // Greedy SmolLM2 counts on for thousands of tokens: each request runs until it is stopped.
  const json counting = {{"model", kSmolName}, {"prompt", "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"},
                         {"max_tokens", 2000}, {"temperature", 0}};
  {
    // Streaming: the client reads a few events and hangs up.
    httplib::Client client = plain_client(server);
    json streaming = counting;
    streaming["stream"] = true;
    size_t received = 0;
    httplib::Request request;
    request.method = "POST";
    request.path = "/v1/completions";
    request.body = streaming.dump();
    request.set_header("Content-Type", "application/json");
    request.content_receiver = [&](const char*, size_t length, uint64_t, uint64_t) {
      received += length;
      return received < 2000;
    };
    client.send(request);
    EXPECT_GE(received, 2000u);
  }
  EXPECT_EQ(wait_for_free_blocks(server, 10), 0);
  EXPECT_EQ(metric(server, "shardlm_requests_total{outcome=\"cancelled\"}"), 1);
  {
    // Not streaming: the client gives up waiting for the whole answer after a second (all it has
    // had is the keep-alive spaces before the JSON).
    httplib::Client client = plain_client(server);
    httplib::Request request;
    request.method = "POST";
    request.path = "/v1/completions";
    request.body = counting.dump();
    request.set_header("Content-Type", "application/json");
    std::string received;
    const auto start = std::chrono::steady_clock::now();
    request.content_receiver = [&](const char* data, size_t length, uint64_t, uint64_t) {
      received.append(data, length);
      return std::chrono::steady_clock::now() - start < std::chrono::seconds(1);
    };
    client.send(request);
    EXPECT_EQ(received.find_first_not_of(' '), std::string::npos) << received;
  }
  EXPECT_EQ(wait_for_free_blocks(server, 10), 0);
  EXPECT_EQ(metric(server, "shardlm_requests_total{outcome=\"cancelled\"}"), 2);
}

TEST(OpenAiHttp, BearerTokenAndTlsAreEnforced) {
  ASSERT_TRUE(std::filesystem::exists(kPython)) << kPython << " is missing: run ./launch/install-deps.sh";
  const std::string dir = temp_dir();
  const CliResult made = run_program({"/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                                      dir + "/key.pem", "-out", dir + "/cert.pem", "-days", "1", "-subj",
                                      "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  ServerProcess server({"--model", kStories, "--http-port", "0", "--auth-token", "sesame", "--tls-cert",
                        dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  ASSERT_EQ(server.http_address().rfind("https://", 0), 0u) << server.http_address();
  const auto [host, port] = host_and_port(server.http_address());
  httplib::SSLClient tls(host, port);
  tls.set_ca_cert_path((dir + "/cert.pem").c_str());
  tls.enable_server_certificate_verification(true);
  const auto missing = tls.Get("/v1/models");
  ASSERT_TRUE(missing) << httplib::to_string(missing.error());
  EXPECT_EQ(missing->status, 401);
  const auto wrong = tls.Get("/v1/models", {{"Authorization", "Bearer sesame2"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  const auto right = tls.Get("/v1/models", {{"Authorization", "Bearer sesame"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200) << right->body;
  const auto health = tls.Get("/health");  // open to probes
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  httplib::Client plain(host, port);
  plain.set_read_timeout(5);
  const auto answered = plain.Get("/health");
  EXPECT_FALSE(answered && answered->status == 200) << "a plain-text client was answered by a TLS server";

  const std::string prompt = "Once upon a time";
  const CliResult python = run_program({kPython, kOpenAiClient, "--base-url", server.http_address() + "/v1", "--api-key",
                                        "sesame", "--ca", dir + "/cert.pem", "--prompt", prompt, "--max-tokens", "32"});
  ASSERT_EQ(python.exit_code, 0) << python.err;
  EXPECT_EQ(prompt + json::parse(python.out)["completion"].get<std::string>() + "\n", offline_greedy(kStories, prompt, 32));
}

}  // namespace
}  // namespace shardlm::testing
