// Every field of every request, given a bad value, answers INVALID_ARGUMENT naming the field; the
// server keeps serving others unharmed (a good request after each bad one gets the offline text). And
// the deploy file and flags are checked with errors naming the key.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>

#include "tests/serve/server_process.h"

namespace shardlm::testing {
namespace {

namespace v1 = shardlm::v1;

struct BadGenerate {
  std::string field;  // what the error must name
  std::function<void(v1::GenerateRequest&)> spoil;
};

v1::GenerateRequest good_request() {
  v1::GenerateRequest request;
  request.set_prompt("Once upon a time");
  request.mutable_options()->set_max_new_tokens(8);
  return request;
}

// Adds a field number the .proto does not have, as a newer or a wrong client would send.
void add_unknown_field(google::protobuf::Message& message, int number) {
  message.GetReflection()->MutableUnknownFields(&message)->AddVarint(number, 1);
}

const float kNan = std::numeric_limits<float>::quiet_NaN();

const std::vector<BadGenerate> kBadGenerates = {
    {"prompt", [](auto& r) { r.set_prompt(""); }},
    {"prompt", [](auto& r) { r.set_prompt(std::string(3000, 'a') + " and on"); }},  // longer than the context
    {"prompt", [](auto& r) { r.set_prompt(std::string("bad \0 nul", 9)); }},
    {"options.max_new_tokens", [](auto& r) { r.mutable_options()->set_max_new_tokens(0); }},
    {"options.max_new_tokens", [](auto& r) { r.mutable_options()->set_max_new_tokens(-5); }},
    {"options.max_new_tokens", [](auto& r) { r.mutable_options()->set_max_new_tokens(2000000000); }},
    {"options.sampling.temperature", [](auto& r) { r.mutable_options()->mutable_sampling()->set_temperature(-1); }},
    {"options.sampling.temperature", [](auto& r) { r.mutable_options()->mutable_sampling()->set_temperature(kNan); }},
    {"options.sampling.temperature", [](auto& r) { r.mutable_options()->mutable_sampling()->set_temperature(1e9); }},
    {"options.sampling.top_k", [](auto& r) { r.mutable_options()->mutable_sampling()->set_top_k(-1); }},
    {"options.sampling.top_k", [](auto& r) { r.mutable_options()->mutable_sampling()->set_top_k(1 << 30); }},
    {"options.sampling.top_p", [](auto& r) { r.mutable_options()->mutable_sampling()->set_top_p(0); }},
    {"options.sampling.top_p", [](auto& r) { r.mutable_options()->mutable_sampling()->set_top_p(1.5f); }},
    {"options.sampling.top_p", [](auto& r) { r.mutable_options()->mutable_sampling()->set_top_p(kNan); }},
    {"options.sampling.min_p", [](auto& r) { r.mutable_options()->mutable_sampling()->set_min_p(-0.1f); }},
    {"options.sampling.min_p", [](auto& r) { r.mutable_options()->mutable_sampling()->set_min_p(1); }},
    {"options.sampling.repetition_penalty",
     [](auto& r) { r.mutable_options()->mutable_sampling()->set_repetition_penalty(0); }},
    {"options.sampling.repetition_penalty",
     [](auto& r) { r.mutable_options()->mutable_sampling()->set_repetition_penalty(kNan); }},
    {"options.sampling.presence_penalty",
     [](auto& r) { r.mutable_options()->mutable_sampling()->set_presence_penalty(1000); }},
    {"options.sampling.presence_penalty",
     [](auto& r) { r.mutable_options()->mutable_sampling()->set_presence_penalty(-kNan); }},
    {"options.stop[0]", [](auto& r) { r.mutable_options()->add_stop(""); }},
    {"options.stop[1]", [](auto& r) { r.mutable_options()->add_stop("ok"); r.mutable_options()->add_stop(std::string(2000, 'x')); }},
    {"options.stop", [](auto& r) { for (int i = 0; i < 17; ++i) r.mutable_options()->add_stop(std::string(i + 1, 's')); }},
    {"options.stop_token_ids[0]", [](auto& r) { r.mutable_options()->add_stop_token_ids(-1); }},
    {"options.stop_token_ids[1]", [](auto& r) { r.mutable_options()->add_stop_token_ids(1); r.mutable_options()->add_stop_token_ids(1 << 30); }},
    {"GenerateRequest", [](auto& r) { add_unknown_field(r, 99); }},
    {"options", [](auto& r) { add_unknown_field(*r.mutable_options(), 42); }},
    {"options.sampling", [](auto& r) { add_unknown_field(*r.mutable_options()->mutable_sampling(), 77); }},
};

class BadRequests : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--model", kStories});
    expected_ = new std::string(offline_greedy(kStories, "Once upon a time", 8));
  }
  static void TearDownTestSuite() {
    delete server_;
    delete expected_;
  }
  // A good request after a bad one still gets the offline text.
  static void expect_still_serving() {
    rpc::InferenceClient client = server_->client();
    v1::GenerateResponse response;
    ASSERT_TRUE(client.complete(good_request(), response).ok());
    EXPECT_NE(expected_->find(response.text()), std::string::npos);
    EXPECT_EQ(response.token_ids_size(), 8);
  }
  static ServerProcess* server_;
  static std::string* expected_;
};
ServerProcess* BadRequests::server_ = nullptr;
std::string* BadRequests::expected_ = nullptr;

void expect_invalid(const grpc::Status& status, const std::string& field) {
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field << ": " << status.error_message();
  EXPECT_EQ(status.error_message().rfind(field + ":", 0), 0u) << "expected the message to start with '" << field
                                                               << ":', got: " << status.error_message();
}

TEST_F(BadRequests, EveryGenerateFieldIsChecked) {
  rpc::InferenceClient client = server_->client();
  for (const BadGenerate& bad : kBadGenerates) {
    v1::GenerateRequest request = good_request();
    bad.spoil(request);
    expect_invalid(client.generate(request, [](const auto&) { return true; }), bad.field);
    v1::GenerateResponse response;
    expect_invalid(client.complete(request, response), bad.field);
  }
  expect_still_serving();
}

TEST_F(BadRequests, InvalidUtf8IsRefusedNamingTheField) {
  rpc::InferenceClient client = server_->client();
  v1::GenerateRequest request = good_request();
  request.set_prompt("caf\xC3 \xFF");
  v1::GenerateResponse response;
  expect_invalid(client.complete(request, response), "prompt");
  request = good_request();
  request.mutable_options()->add_stop("\xE2\x82");
  expect_invalid(client.complete(request, response), "options.stop[0]");
  v1::ChatRequest chat;
  chat.add_messages()->set_role("us\xFF" "er");
  expect_invalid(client.chat(chat, [](const auto&) { return true; }), "messages");  // no template comes first
  std::vector<int32_t> ids;
  expect_invalid(client.tokenize("\xC0\xAF", false, ids), "text");  // an overlong form
  expect_still_serving();
}

TEST_F(BadRequests, ChatTokenizeAndDetokenizeFieldsAreChecked) {
  rpc::InferenceClient client = server_->client();
  v1::ChatRequest chat;
  chat.add_messages()->set_content("hello");
  // stories260K has no chat template: the call is refused naming messages.
  expect_invalid(client.chat(chat, [](const auto&) { return true; }), "messages");
  std::vector<int32_t> ids;
  std::string text;
  expect_invalid(client.detokenize({1, 5, 100000}, text), "token_ids[2]");
  expect_invalid(client.detokenize({-3}, text), "token_ids[0]");
  expect_invalid(client.tokenize(std::string("a\0b", 3), false, ids), "text");
  EXPECT_TRUE(client.tokenize("", false, ids).ok());
  expect_still_serving();
}

TEST(BadChatRequests, EveryChatFieldIsChecked) {
  ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  ServerProcess server({"--model", kSmolLm2, "--kv-cache-memory", "64M"});
  rpc::InferenceClient client = server.client();
  auto chat_with = [](const std::string& role, const std::string& content) {
    v1::ChatRequest chat;
    auto* message = chat.add_messages();
    message->set_role(role);
    message->set_content(content);
    chat.mutable_options()->set_max_new_tokens(4);
    return chat;
  };
  const auto run = [&](const v1::ChatRequest& chat) { return client.chat(chat, [](const auto&) { return true; }); };
  expect_invalid(run(v1::ChatRequest()), "messages");
  expect_invalid(run(chat_with("wizard", "hi")), "messages[0].role");
  expect_invalid(run(chat_with("user", "bad \xFF byte")), "messages[0].content");
  v1::ChatRequest long_chat = chat_with("user", std::string(40000, 'a') + " b");
  expect_invalid(run(long_chat), "messages");  // longer than the context once templated
  v1::ChatRequest bad_options = chat_with("user", "hi");
  bad_options.mutable_options()->mutable_sampling()->set_top_p(2);
  expect_invalid(run(bad_options), "options.sampling.top_p");
  v1::ChatRequest unknown = chat_with("user", "hi");
  add_unknown_field(*unknown.mutable_messages(0), 9);
  expect_invalid(run(unknown), "messages[0]");
  // A good conversation still gets an answer.
  std::string answer;
  ASSERT_TRUE(client.chat(chat_with("user", "What is the capital of France?"), [&](const auto& m) {
    answer += m.text();
    return true;
  }).ok());
  EXPECT_FALSE(answer.empty());
}

TEST(ServeFlags, DeployFileAndFlagsAreCheckedNamingTheKey) {
  const std::string dir = temp_dir();
  struct Case {
    std::string yaml;
    std::vector<std::string> flags;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"model: " + kStories + "\nmax_bach: 4\n", {}, "unknown key 'max_bach'"},
      {"model: " + kStories + "\nport: [1, 2]\n", {}, "key 'port' expects a single value"},
      {"model: " + kStories + "\nport: 70000\n", {}, "--port"},
      {"model: " + kStories + "\nmax_batch: -1\n", {}, "--max-batch"},
      {"model: " + kStories + "\ntls_cert: /nonexistent.pem\n", {}, "--tls-cert and --tls-key go together"},
      {"- just\n- a list\n", {}, "expected a map of keys"},
      {"model: [unclosed\n", {}, "not valid YAML"},
      {"port: 0\n", {}, "--model"},
      {"model: " + kStories + "\n", {"--auth-token", "has space"}, "printable ASCII"},
      {"model: " + kStories + "\n", {"--no-such-flag", "1"}, "no-such-flag"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir + "/deploy" + std::to_string(i) + ".yaml";
    write_file(path, cases[i].yaml);
    std::vector<std::string> args = {"serve", "--config", path};
    args.insert(args.end(), cases[i].flags.begin(), cases[i].flags.end());
    const CliResult result = run_cli(args);
    EXPECT_EQ(result.exit_code, 1) << cases[i].yaml;
    EXPECT_NE(result.err.find(cases[i].expected), std::string::npos) << cases[i].yaml << "\n" << result.err;
    EXPECT_EQ(result.err.rfind("error: ", 0), 0u) << result.err;
  }
  EXPECT_NE(run_cli({"serve", "--config", dir + "/missing.yaml"}).err.find("cannot read the deploy file"),
            std::string::npos);
}

TEST(ServeFlags, FlagsWinOverTheDeployFile) {
  const std::string path = temp_dir() + "/deploy.yaml";
  write_file(path, "model: " + kStories + "\nmax_batch: 3\nport: 1\n");
  ServerProcess server({"--config", path, "--max-batch", "5"});
  v1::ModelInfoResponse info;
  ASSERT_TRUE(server.client().model_info(info).ok());
  EXPECT_EQ(info.max_batch(), 5);
  EXPECT_EQ(info.model_path(), kStories);
  EXPECT_EQ(info.layers(), 5);  // stories260K's published shape
  EXPECT_EQ(info.kv_heads(), 4);
}

}  // namespace
}  // namespace shardlm::testing
