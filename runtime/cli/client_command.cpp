// `shardlm client`: talks to a `shardlm serve`. With --prompt it streams the prompt and its
// continuation to stdout as `shardlm generate` prints them; --health exits 0 only when the server is
// SERVING; --info and --metrics print ModelInfo and the Prometheus text; `shardlm client chat` is an
// interactive chat against the server.
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include "rpc/client/inference_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"

namespace shardlm::cli {
namespace {

namespace v1 = shardlm::v1;

constexpr const char* kHelp =
    "usage: shardlm client --addr HOST:PORT --prompt TEXT [flags]\n"
    "       shardlm client --addr HOST:PORT --health | --info | --metrics\n"
    "       shardlm client chat --addr HOST:PORT [--system TEXT] [flags]\n"
    "  --addr            the server (default 127.0.0.1:50051)\n"
    "  --prompt          text to continue: the prompt and the answer stream to stdout\n"
    "  --max-new-tokens  tokens to generate (default: the server's, 256)\n"
    "  --temperature, --top-k, --top-p, --min-p, --repetition-penalty, --presence-penalty, --seed\n"
    "                    sampling (default greedy: temperature 0)\n"
    "  --stop TEXT       end where TEXT appears; may be repeated\n"
    "  --token T         bearer token (or --token-file FILE)\n"
    "  --tls             connect with TLS (system roots), or --tls-ca PEM for a private CA\n"
    "  --timeout S       deadline of each call in seconds\n"
    "  --health          exit 0 when the server is SERVING, 1 otherwise\n"
    "  --info            the model, its layout and the KV cache, as JSON-like text\n"
    "  --metrics         the server's metrics in Prometheus text format\n";

std::string read_whole(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  SHARDLM_CHECK(in.good(), "cannot read {} '{}'", flag, path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

rpc::ClientOptions read_client_options(Args& args) {
  rpc::ClientOptions options;
  options.address = args.text("addr").value_or("127.0.0.1:50051");
  options.bearer_token = args.text("token").value_or("");
  if (const auto file = args.text("token-file")) {
    options.bearer_token = read_whole(*file, "--token-file");
    while (!options.bearer_token.empty() && std::isspace(static_cast<unsigned char>(options.bearer_token.back())))
      options.bearer_token.pop_back();
  }
  options.tls = args.has_switch("tls");
  if (const auto ca = args.text("tls-ca")) options.tls_root_certificates = read_whole(*ca, "--tls-ca");
  if (args.text("timeout")) options.deadline_seconds = args.real("timeout", 0, 0.001, 1e6);
  return options;
}

// Only the flags given: the server's defaults apply to the rest.
v1::GenerationOptions read_generation_options(Args& args) {
  v1::GenerationOptions options;
  if (args.text("max-new-tokens"))
    options.set_max_new_tokens(static_cast<int32_t>(args.integer("max-new-tokens", 0, 1, 1 << 30)));
  auto* sampling = options.mutable_sampling();
  if (args.text("temperature")) sampling->set_temperature(static_cast<float>(args.real("temperature", 0, 0, 1e6)));
  if (args.text("top-k")) sampling->set_top_k(static_cast<int32_t>(args.integer("top-k", 0, 0, 1 << 30)));
  if (args.text("top-p")) sampling->set_top_p(static_cast<float>(args.real("top-p", 1, 0, 1)));
  if (args.text("min-p")) sampling->set_min_p(static_cast<float>(args.real("min-p", 0, 0, 1)));
  if (args.text("repetition-penalty"))
    sampling->set_repetition_penalty(static_cast<float>(args.real("repetition-penalty", 1, 0, 1e6)));
  if (args.text("presence-penalty"))
    sampling->set_presence_penalty(static_cast<float>(args.real("presence-penalty", 0, -1e6, 1e6)));
  if (args.text("seed")) sampling->set_seed(static_cast<uint64_t>(args.integer("seed", 0, 0, INT64_MAX)));
  for (const std::string& stop : args.texts("stop")) options.add_stop(stop);
  return options;
}

void check(const grpc::Status& status, const std::string& address) {
  SHARDLM_CHECK(status.ok(), "{} answered {}: {}", address,
                status.error_code() == grpc::StatusCode::UNAVAILABLE ? "UNAVAILABLE (is the server running?)"
                                                                     : fmt::format("status {}", static_cast<int>(status.error_code())),
                status.error_message());
}

const char* finish_name(v1::FinishReason reason) {
  switch (reason) {
    case v1::FINISH_REASON_LENGTH: return "length";
    case v1::FINISH_REASON_STOP: return "stop";
    case v1::FINISH_REASON_CANCELLED: return "cancelled";
    case v1::FINISH_REASON_ERROR: return "error";
    default: return "unspecified";
  }
}

// Prints each message's text; returns the last message (with the finish reason, usage, timings).
std::function<bool(const v1::GenerateResponse&)> printer(v1::GenerateResponse& last) {
  return [&last](const v1::GenerateResponse& message) {
    print_text(message.text());
    if (message.finish_reason() != v1::FINISH_REASON_UNSPECIFIED) last = message;
    return true;
  };
}

void report(const v1::GenerateResponse& last) {
  const auto& t = last.timings();
  const double decode_rate = last.usage().completion_tokens() > 1 && t.decode_ms() > 0
                                 ? (last.usage().completion_tokens() - 1) / (t.decode_ms() / 1000)
                                 : 0.0;
  std::fprintf(stderr,
               "finish: %s | prompt tokens: %d (%d cached), generated tokens: %d | queue %.1f ms, time to first "
               "token %.1f ms | decode: %.1f tokens/s\n",
               finish_name(last.finish_reason()), last.usage().prompt_tokens(), last.usage().cached_prompt_tokens(),
               last.usage().completion_tokens(), t.queue_ms(), t.time_to_first_token_ms(), decode_rate);
}

int chat_loop(Args& args) {
  rpc::ClientOptions options = read_client_options(args);
  const v1::GenerationOptions generation = read_generation_options(args);
  const auto system = args.text("system");
  args.reject_unused();
  rpc::InferenceClient client(options);
  v1::ChatRequest request;
  *request.mutable_options() = generation;
  if (system) {
    auto* message = request.add_messages();
    message->set_role("system");
    message->set_content(*system);
  }
  const bool interactive = isatty(STDIN_FILENO) == 1;
  for (;;) {
    if (interactive) std::fputs("> ", stderr);
    std::string line;
    if (!std::getline(std::cin, line) || line.empty()) break;
    auto* user = request.add_messages();
    user->set_role("user");
    user->set_content(line);
    std::string answer;
    v1::GenerateResponse last;
    check(client.chat(request,
                      [&](const v1::GenerateResponse& message) {
                        answer += message.text();
                        return printer(last)(message);
                      }),
          options.address);
    print_text("\n");
    report(last);
    auto* reply = request.add_messages();
    reply->set_role("assistant");
    reply->set_content(answer);
  }
  return 0;
}

}  // namespace

int client_command(const std::vector<std::string>& argv) {
  if (!argv.empty() && argv[0] == "chat") {
    Args args(std::vector<std::string>(argv.begin() + 1, argv.end()), {"tls"}, {"stop"});
    return chat_loop(args);
  }
  Args args(argv, {"help", "health", "info", "metrics", "tls"}, {"stop"});
  if (args.has_switch("help")) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  const rpc::ClientOptions options = read_client_options(args);
  rpc::InferenceClient client(options);
  if (args.has_switch("health")) {
    args.reject_unused();
    v1::HealthResponse health;
    check(client.health(health), options.address);
    const bool serving = health.status() == v1::HealthResponse::SERVING;
    std::printf("%s%s%s\n", serving ? "SERVING" : "NOT_SERVING", health.reason().empty() ? "" : ": ",
                health.reason().c_str());
    return serving ? 0 : 1;
  }
  if (args.has_switch("info")) {
    args.reject_unused();
    v1::ModelInfoResponse info;
    check(client.model_info(info), options.address);
    std::printf("%s", info.DebugString().c_str());
    return 0;
  }
  if (args.has_switch("metrics")) {
    args.reject_unused();
    std::string text;
    check(client.metrics(text), options.address);
    std::fputs(text.c_str(), stdout);
    return 0;
  }
  v1::GenerateRequest request;
  request.set_prompt(args.required_text("prompt"));
  *request.mutable_options() = read_generation_options(args);
  args.reject_unused();
  // The prompt as `generate` echoes it: its tokens decoded after BOS.
  std::vector<int32_t> ids;
  check(client.tokenize(request.prompt(), /*add_bos=*/true, ids), options.address);
  std::string echo;
  check(client.detokenize(ids, echo), options.address);
  print_text(echo);
  v1::GenerateResponse last;
  check(client.generate(request, printer(last)), options.address);
  print_text("\n");
  report(last);
  return 0;
}

}  // namespace shardlm::cli
