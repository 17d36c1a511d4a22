// Soak: a `shardlm serve` process under a steady mix of requests for a long time (10 minutes by
// default), as a production server lives: streams read to the end, streams the client cancels after
// a few tokens, requests whose deadline passes mid-generation, and invalid requests. Reports the
// requests served and their outcomes by kind (and any that ended otherwise than their kind must),
// the server's resident memory after warm-up and at the end, and the KV blocks still held once every
// client is done (leaked: must be 0). Exits 1 on a leak or an unexpected outcome.
//   usage: shardlm_soak [seconds] [model] [clients]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/server_launch.h"
#include "rpc/client/inference_client.h"

using namespace shardlm;
using Clock = std::chrono::steady_clock;
namespace v1 = shardlm::v1;

namespace {

enum class Kind { streamed, cancelled, timed_out, invalid };
constexpr Kind kKinds[] = {Kind::streamed, Kind::cancelled, Kind::timed_out, Kind::invalid};
const char* name_of(Kind kind) {
  switch (kind) {
    case Kind::streamed: return "streamed to the end";
    case Kind::cancelled: return "cancelled by the client";
    case Kind::timed_out: return "deadline passed";
    default: return "invalid";
  }
}
// What the server must answer each kind with.
grpc::StatusCode expected_for(Kind kind) {
  switch (kind) {
    case Kind::streamed: return grpc::StatusCode::OK;
    case Kind::cancelled: return grpc::StatusCode::CANCELLED;
    case Kind::timed_out: return grpc::StatusCode::DEADLINE_EXCEEDED;
    default: return grpc::StatusCode::INVALID_ARGUMENT;
  }
}

// Resident memory of a process (VmRSS), bytes.
double resident_bytes(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;
  return 0;
}

struct Tally {
  std::mutex mutex;
  std::map<Kind, int64_t> requests;
  std::map<std::pair<Kind, int>, int64_t> unexpected;  // kind, status code
  int64_t tokens = 0;
};

v1::GenerateRequest request_for(Kind kind, int64_t serial) {
  v1::GenerateRequest request;
  request.set_prompt("Request " + std::to_string(serial) + ": 1, 2, 3, 4, 5,");
  auto* options = request.mutable_options();
  options->set_max_new_tokens(kind == Kind::streamed ? 16 + serial % 48 : 400);
  options->mutable_sampling()->set_temperature(serial % 2 == 0 ? 0.0f : 0.8f);
  options->mutable_sampling()->set_seed(static_cast<uint64_t>(serial));
  if (kind == Kind::invalid) {
    // A different mistake each time: the server must name it and carry on.
    switch (serial % 3) {
      case 0: options->set_max_new_tokens(-5); break;
      case 1: options->mutable_sampling()->set_temperature(-1.0f); break;
      default: request.set_prompt(""); break;
    }
  }
  return request;
}

void client_loop(const std::string& address, int index, Clock::time_point until, Tally& tally) {
  rpc::ClientOptions plain;
  plain.address = address;
  rpc::InferenceClient client(plain);
  rpc::ClientOptions hurried = plain;
  hurried.deadline_seconds = 0.3;
  rpc::InferenceClient late(hurried);
  for (int64_t serial = index; Clock::now() < until; serial += 97) {
    const Kind kind = kKinds[serial % 4];
    int64_t tokens = 0;
    auto on_response = [&](const v1::GenerateResponse& response) {
      tokens += response.token_ids_size();
      return kind != Kind::cancelled || tokens < 3;
    };
    const grpc::Status status = (kind == Kind::timed_out ? late : client).generate(request_for(kind, serial), on_response);
    std::lock_guard lock(tally.mutex);
    ++tally.requests[kind];
    tally.tokens += tokens;
    if (status.error_code() != expected_for(kind)) ++tally.unexpected[{kind, static_cast<int>(status.error_code())}];
  }
}

}  // namespace

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 600.0;
  const std::string model = argc > 2 ? argv[2] : std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const int clients = argc > 3 ? std::atoi(argv[3]) : 8;
  std::string address;
  const int server = start_serve_process({"--model", model, "--kv-cache-memory", "128M", "--max-batch", "16"}, address);
  rpc::ClientOptions options;
  options.address = address;
  rpc::InferenceClient watcher(options);

  // Warm-up: a minute's worth of the mix is long; a few seconds fill the allocator's pools.
  Tally warm;
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < clients; ++i)
      threads.emplace_back(client_loop, address, i, Clock::now() + std::chrono::seconds(5), std::ref(warm));
    for (auto& t : threads) t.join();
  }
  const double rss_start = resident_bytes(server);
  std::printf("soak: %s, %d clients for %.0f s, server at %s; resident after warm-up %.1f MiB\n", model.c_str(), clients,
              seconds, address.c_str(), rss_start / 1048576.0);
  Tally tally;
  const Clock::time_point start = Clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i)
    threads.emplace_back(client_loop, address, i, start + std::chrono::duration_cast<Clock::duration>(
                                                            std::chrono::duration<double>(seconds)),
                         std::ref(tally));
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  // Every client is done: the pool must drain to empty.
  int64_t held = -1;
  for (int i = 0; i < 100 && held != 0; ++i) {
    v1::ModelInfoResponse info;
    if (watcher.model_info(info).ok()) held = info.kv_cache().blocks_in_use();
    if (held != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const double rss_end = resident_bytes(server);
  int64_t total = 0, unexpected = 0;
  for (const auto& [kind, count] : tally.requests) total += count;
  std::printf("soak: %lld requests in %.0f s (%.1f/s), %lld tokens streamed\n", static_cast<long long>(total), elapsed,
              total / elapsed, static_cast<long long>(tally.tokens));
  for (const Kind kind : kKinds)
    std::printf("  %-24s %8lld\n", name_of(kind), static_cast<long long>(tally.requests[kind]));
  for (const auto& [key, count] : tally.unexpected) {
    std::printf("  UNEXPECTED: %lld %s requests ended with status %d\n", static_cast<long long>(count),
                name_of(key.first), key.second);
    unexpected += count;
  }
  std::printf("soak: resident memory %.1f MiB after warm-up, %.1f MiB at the end (%+.1f MiB); KV blocks leaked: %lld\n",
              rss_start / 1048576.0, rss_end / 1048576.0, (rss_end - rss_start) / 1048576.0, static_cast<long long>(held));
  stop_serve_process(server);
  return held == 0 && unexpected == 0 ? 0 : 1;
}
