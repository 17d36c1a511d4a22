// A real `shardlm serve` process (or an mpirun job of them) on 127.0.0.1 and a free port, for tests.
#pragma once

#include <string>
#include <vector>

#include "rpc/client/inference_client.h"
#include "tests/e2e/run_cli.h"

namespace shardlm::testing {

extern const std::string kStories;  // stories260K's llama2.c checkpoint
extern const std::string kSmolLm2;  // SmolLM2-135M-Instruct's GGUF (launch/fetch-models.sh)

class ServerProcess {
 public:
  // Starts `shardlm serve --port <port> args...` (a free port by default), under `mpirun
  // --enable-recovery` when ranks > 1, and waits until it says where it listens. Fails the test
  // (throws) when it does not come up.
  explicit ServerProcess(const std::vector<std::string>& args, int ranks = 1, const std::string& port = "0");
  ~ServerProcess();  // SIGTERM, then SIGKILL if it lingers

  const std::string& address() const { return address_; }
  // "http://127.0.0.1:<port>" (or https) when started with --http-port; empty otherwise.
  const std::string& http_address() const { return http_address_; }
  rpc::InferenceClient client(rpc::ClientOptions options = {}) const;
  // SIGTERM to the server (or mpirun) and its exit, within `seconds`.
  CliResult stop(double seconds);
  // SIGKILL to the server (or mpirun): no drain, as a crash or the OOM killer ends it.
  void kill_now();
  // The pid of rank `rank` (ranks > 1 only).
  int rank_pid(int rank) const;
  std::string err() const { return read_file(process_.err_path); }

 private:
  Background process_;
  std::string address_, http_address_;
  bool stopped_ = false;
};

// `shardlm generate --temperature 0` of one prompt: its stdout.
std::string offline_greedy(const std::string& model, const std::string& prompt, int max_new_tokens);

}  // namespace shardlm::testing
