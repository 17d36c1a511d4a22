#include "tests/serve/server_process.h"

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <regex>
#include <stdexcept>
#include <thread>

namespace shardlm::testing {

const std::string kStories = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::string kSmolLm2 = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";

// The binary that serves: SHARDLM_TEST_SERVE_BINARY where set (launch/sanitize.sh points it at a
// ThreadSanitizer build, so that only the server is instrumented: the test's own gRPC client, in
// Debian's uninstrumented gRPC, would be reported for races that its hidden synchronization rules out).
static std::string serving_binary() {
  const char* chosen = std::getenv("SHARDLM_TEST_SERVE_BINARY");
  return chosen && *chosen ? chosen : SHARDLM_BINARY;
}

ServerProcess::ServerProcess(const std::vector<std::string>& args, int ranks, const std::string& port) {
  std::vector<std::string> argv;
  if (ranks > 1) {
    prepare_mpi_environment();
    argv = {SHARDLM_MPIEXEC, "-np", std::to_string(ranks), "--oversubscribe", "--bind-to", "none", "--enable-recovery"};
  }
  argv.insert(argv.end(), {serving_binary(), "serve", "--port", port});
  argv.insert(argv.end(), args.begin(), args.end());
  process_ = start_program(argv);
  const std::regex listening("serving .* on (127\\.0\\.0\\.1:[0-9]+)");
  const std::regex http_listening("OpenAI HTTP API at (https?://127\\.0\\.0\\.1:[0-9]+)");
  for (int i = 0; i < 1200; ++i) {
    std::smatch match;
    const std::string err = read_file(process_.err_path);
    if (std::regex_search(err, match, listening)) {
      address_ = match[1];
      if (std::regex_search(err, match, http_listening)) http_address_ = match[1];
      return;
    }
    if (process_.wait(0).exit_code != -1 || process_.wait(0).signal != 0)
      throw std::runtime_error("shardlm serve ended before listening: " + err);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("shardlm serve did not listen within 60 s: " + read_file(process_.err_path));
}

ServerProcess::~ServerProcess() {
  if (stopped_ || process_.pid <= 0) return;
  const CliResult result = stop(30);
  if (result.exit_code == -1 && result.signal == 0) {
    kill(process_.pid, SIGKILL);
    process_.wait(5);
  }
}

rpc::InferenceClient ServerProcess::client(rpc::ClientOptions options) const {
  options.address = address_;
  return rpc::InferenceClient(options);
}

CliResult ServerProcess::stop(double seconds) {
  stopped_ = true;
  kill(process_.pid, SIGTERM);
  return process_.wait(seconds);
}

void ServerProcess::kill_now() {
  stopped_ = true;
  kill(process_.pid, SIGKILL);
  process_.wait(10);
}

int ServerProcess::rank_pid(int rank) const { return pid_of_rank(rank, process_.pid, serving_binary()); }

std::string offline_greedy(const std::string& model, const std::string& prompt, int max_new_tokens) {
  const CliResult result = run_cli({"generate", "--model", model, "--prompt", prompt, "--max-new-tokens",
                                    std::to_string(max_new_tokens), "--temperature", "0"});
  if (result.exit_code != 0) throw std::runtime_error("offline generate failed: " + result.err);
  return result.out;
}

}  // namespace shardlm::testing
