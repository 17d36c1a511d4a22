// `shardlm serve`: every rank loads its share of the model; rank 0 answers gRPC and drives the
// engine from its main thread (MPI is FUNNELED), the others follow its steps. SIGTERM (or SIGINT)
// stops taking requests, lets those in flight finish for drain_seconds, cancels the rest with a
// status, and exits 0. A lost rank turns Health to NOT_SERVING and ends in-flight requests with
// UNAVAILABLE; the process then waits for SIGTERM.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <filesystem>
#include <fstream>
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include "rpc/http/openai_http_server.h"
#include "rpc/server/deploy_config.h"
#include "rpc/server/inference_service.h"
#include "rpc/server/rank_watchdog.h"
#include "rpc/server/serving_loop.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/model/model_loader.h"
#include "runtime/plan/kv_budget.h"
#include "runtime/tokenizer/chat_template.h"

namespace shardlm::cli {
namespace {

constexpr int64_t kBlockSize = 16;

std::string read_whole_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  SHARDLM_CHECK(in.good(), "cannot read {} '{}'", what, path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void print_help() {
  std::string keys;
  for (const auto& key : rpc::deploy_keys())
    keys += fmt::format("  --{:<22} {}\n", rpc::flag_of_key(key.name), key.help);
  std::printf("usage: [mpirun -np N --enable-recovery] shardlm serve [--config FILE.yaml] [flags]\n"
              "  --config FILE           a deploy file (configs/deploy/); flags win over its keys\n%s"
              "Every flag is also a key of the deploy file (max_batch for --max-batch); see configs/deploy/README.md.\n",
              keys.c_str());
}

// Signals are taken by one thread with sigwait(); every other thread (gRPC's included, which inherit
// the mask) has them blocked, so a signal never lands inside MPI or the engine.
sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// The engine's default pool when kv_cache_memory is not given: a full context for every sequence of
// the batch, but at most a quarter of the memory free now (in kv_dtype's bytes).
int64_t default_kv_blocks(const Decoder& decoder, DType kv_dtype, int64_t max_batch) {
  const KvFootprint footprint = KvFootprint::of_model(decoder.spec(), kv_dtype);
  const int64_t full = max_batch * ((decoder.spec().max_seq_len + kBlockSize - 1) / kBlockSize);
  const int64_t quarter = blocks_for_budget(available_memory_bytes() / 4, footprint.bytes_per_token(), kBlockSize);
  return std::max<int64_t>(1, std::min(full, quarter));
}

}  // namespace

int serve_command(const std::vector<std::string>& argv) {
  std::vector<std::string> command_line = argv;
  std::vector<std::string> file_flags;
  for (size_t i = 0; i < command_line.size(); ++i) {
    if (command_line[i] == "--help") {
      print_help();
      return 0;
    }
    if (command_line[i] == "--config") {
      SHARDLM_CHECK(i + 1 < command_line.size(), "--config needs a file");
      file_flags = rpc::deploy_file_as_flags(command_line[i + 1]);
      command_line.erase(command_line.begin() + static_cast<std::ptrdiff_t>(i),
                         command_line.begin() + static_cast<std::ptrdiff_t>(i) + 2);
      break;
    }
  }
  const std::vector<std::string> merged = rpc::merge_deploy_flags(file_flags, command_line);
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Args args(merged, {});
  const ModelFlags model_flags = read_model_flags(args);
  const std::string host = args.text("host").value_or("127.0.0.1");
  const auto port = static_cast<int>(args.integer("port", 50051, 0, 65535));
  // -1: no HTTP API.
  const auto http_port = static_cast<int>(args.text("http-port") ? args.integer("http-port", 0, 0, 65535) : -1);
  const std::optional<std::string> served_model_name = args.text("served-model-name");
  SHARDLM_CHECK(!served_model_name || !served_model_name->empty(), "--served-model-name is empty");
  const int64_t max_batch = args.integer("max-batch", 16, 1, 4096);
  const int64_t max_queue = args.integer("max-queue", 256, 1, 1 << 20);
  const int64_t max_step_tokens = args.integer("max-step-tokens", 512, 0, 1 << 24);
  const auto tls_cert = args.text("tls-cert"), tls_key = args.text("tls-key");
  SHARDLM_CHECK(tls_cert.has_value() == tls_key.has_value(), "--tls-cert and --tls-key go together: give both or neither");
  std::string token = args.text("auth-token").value_or("");
  if (const auto file = args.text("auth-token-file")) {
    SHARDLM_CHECK(token.empty(), "give --auth-token or --auth-token-file, not both");
    token = read_whole_file(*file, "--auth-token-file");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    SHARDLM_CHECK(!token.empty(), "--auth-token-file '{}' is empty", *file);
  }
  for (char c : token)
    SHARDLM_CHECK(c > 0x20 && c < 0x7F, "the bearer token must be printable ASCII without spaces");
  const double drain_seconds = args.real("drain-seconds", 30, 0, 86400);
  const double rank_timeout = args.real("rank-timeout-seconds", 60, 0.1, 86400);
  const double heartbeat = args.real("heartbeat-seconds", 1, 0.01, 3600);
  const std::optional<double> kv_cache_bytes = read_kv_cache_bytes(args);
  args.reject_unused();  // before loading: a typo must not cost the minutes a large model takes to load
  std::string pem_cert, pem_key;
  if (tls_cert) {
    pem_cert = read_whole_file(*tls_cert, "--tls-cert");
    pem_key = read_whole_file(*tls_key, "--tls-key");
  }

  Session session = open_session(model_flags, fmt::format("serve {}", fmt::join(merged, "\x1f")));
  const Decoder& decoder = *session.decoder;
  EngineOptions options;
  options.max_batch = max_batch;
  options.block_size = kBlockSize;
  options.max_step_tokens = max_step_tokens;
  options.kv_dtype = model_flags.kv_dtype;
  options.num_blocks = kv_cache_bytes
                           ? kv_blocks_for_budget(kv_cache_bytes, decoder, options.kv_dtype, kBlockSize, max_batch, 0)
                           : default_kv_blocks(decoder, options.kv_dtype, max_batch);
  Engine engine(*session.decoder, options, {session.world, session.world_comm.get()});
  const bool several = session.world.world > 1;
  const auto identities = several ? rpc::exchange_rank_identities(*session.world_comm) : std::vector<rpc::RankIdentity>{};
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(rank_timeout * 1000));

  if (!session.coordinator()) {
    // A follower waits for rank 0's next plan, which comes at least every heartbeat: longer silence
    // means rank 0 is gone, and nothing else would end this process (mpirun --enable-recovery).
    std::atomic<int64_t> last_plan{rpc::RankWatchdog::Clock::now().time_since_epoch().count()};
    const auto heartbeat_span = std::chrono::milliseconds(static_cast<int64_t>(heartbeat * 1000));
    rpc::RankWatchdog watchdog(
        identities, session.world.rank, timeout + heartbeat_span,
        [&] { return std::optional(rpc::RankWatchdog::Clock::time_point(rpc::RankWatchdog::Clock::duration(last_plan.load()))); },
        [&](const std::string& reason) {
          std::fprintf(stderr, "error (rank %d): %s; leaving\n", session.world.rank, reason.c_str());
          std::fflush(stderr);
          std::_Exit(1);
        });
    engine.follow([&] { last_plan = rpc::RankWatchdog::Clock::now().time_since_epoch().count(); });
    return 0;
  }

  const Tokenizer& tokenizer = *session.tokenizer;
  std::optional<ChatTemplate> chat;
  if (const std::string source = read_chat_template_source(model_flags.model_path); !source.empty())
    chat = ChatTemplate::from_jinja(source, chat_tokens_of(tokenizer));
  rpc::ServingMetrics metrics;
  rpc::ServingLoop loop(engine, tokenizer, metrics, {max_queue, heartbeat});
  std::unique_ptr<rpc::RankWatchdog> watchdog;
  if (several) {
    watchdog = std::make_unique<rpc::RankWatchdog>(
        identities, 0, timeout, [&] { return loop.busy_since(); },
        [&](const std::string& reason) {
          std::fprintf(stderr, "error: %s; not serving (in-flight requests end with UNAVAILABLE)\n", reason.c_str());
          std::fflush(stderr);
          loop.fail(reason);
        });
  }
  rpc::ServedModel served;
  served.path = model_flags.model_path;
  const LayerWeights& first_layer = decoder.weights().layers.front();
  served.weight_dtype = dtype_name((first_layer.qkv.weight.defined() ? first_layer.qkv : first_layer.o).weight.dtype());
  served.world = session.world.world;
  served.tp = session.world.tp;
  served.pp = session.world.pp;
  served.block_size = kBlockSize;
  served.kv_dtype = dtype_name(options.kv_dtype);
  served.kv_bytes_per_token =
      static_cast<int64_t>(KvFootprint::of_model(decoder.spec(), options.kv_dtype).bytes_per_token());
  served.weight_bytes = static_cast<int64_t>(decoder.weight_bytes());
  served.max_batch = max_batch;
  served.max_queue = max_queue;
  // Every token's bytes, for structured output: made once, shared by every request.
  const rpc::ValidationContext validation{decoder.spec(), tokenizer, chat ? &*chat : nullptr,
                                          std::make_shared<const TokenVocabulary>(tokenizer)};
  rpc::InferenceService service(loop, metrics, validation, served, token);

  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (tls_cert) {
    grpc::SslServerCredentialsOptions tls;
    tls.pem_key_cert_pairs.push_back({pem_key, pem_cert});
    credentials = grpc::SslServerCredentials(tls);
  }
  int bound_port = 0;
  const std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                                   : fmt::format("{}:{}", host, port);
  builder.AddListeningPort(address, credentials, &bound_port);
  builder.SetMaxReceiveMessageSize(32 << 20);
  // Each call in flight holds a handler thread; beyond the queue's worth (and a few for Health,
  // Metrics and the like) new calls are refused with RESOURCE_EXHAUSTED instead of growing threads.
  grpc::ResourceQuota quota("shardlm-serve");
  quota.SetMaxThreads(static_cast<int>(std::min<int64_t>(max_queue + 64, 1 << 16)));
  builder.SetResourceQuota(quota);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  SHARDLM_CHECK(server != nullptr && bound_port > 0, "cannot listen on {} (in use, or not an address of this machine)",
                address);
  std::unique_ptr<rpc::OpenAiHttpServer> http;
  std::string http_note;
  if (http_port >= 0) {
    // Writing to a client that went away must fail the write, not end the process.
    std::signal(SIGPIPE, SIG_IGN);
    rpc::HttpServerOptions http_options;
    http_options.host = host;
    http_options.port = http_port;
    http_options.tls_cert_path = tls_cert.value_or("");
    http_options.tls_key_path = tls_key.value_or("");
    http_options.bearer_token = token;
    http_options.model_name = served_model_name.value_or(std::filesystem::path(model_flags.model_path).filename().string());
    // A streaming request holds its connection's thread, as a gRPC call holds a handler thread.
    http_options.threads = static_cast<int>(std::min<int64_t>(max_queue + 8, 1024));
    http = std::make_unique<rpc::OpenAiHttpServer>(loop, metrics, validation, http_options);
    http_note = fmt::format(" | OpenAI HTTP API at {}://{}:{} as '{}'", tls_cert ? "https" : "http",
                            host.find(':') != std::string::npos ? "[" + host + "]" : host, http->port(), http_options.model_name);
  }
  std::fprintf(stderr,
               "serving %s on %s:%d | ranks: %d (tp %d, pp %d) | KV blocks: %lld of %lld tokens | max batch %lld%s%s%s\n",
               model_flags.model_path.c_str(), host.c_str(), bound_port, session.world.world, session.world.tp,
               session.world.pp, static_cast<long long>(options.num_blocks), static_cast<long long>(kBlockSize),
               static_cast<long long>(max_batch), tls_cert ? " | TLS" : "", token.empty() ? "" : " | bearer token",
               http_note.c_str());
  std::fflush(stderr);

  const auto drain = std::chrono::milliseconds(static_cast<int64_t>(drain_seconds * 1000));
  std::thread signal_thread([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    std::fprintf(stderr, "%s: shutting down (in-flight requests have %.0f s to finish)\n", strsignal(signal),
                 drain_seconds);
    std::fflush(stderr);
    loop.shut_down(drain);
    // Returns once every call has ended: the loop ends the in-flight ones within the drain time.
    server->Shutdown(std::chrono::system_clock::now() + drain + std::chrono::seconds(2));
    if (http) http->stop();
    if (loop.failed()) {
      // A rank is lost: the engine may be stuck in a collective for good, and MPI cannot finalize.
      std::fprintf(stderr, "stopped\n");
      std::fflush(stderr);
      std::_Exit(0);
    }
  });
  loop.run();
  signal_thread.join();
  engine.stop_followers();
  std::fprintf(stderr, "stopped\n");
  return 0;
}

}  // namespace shardlm::cli
