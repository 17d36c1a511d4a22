// shardlm: one binary, one subcommand per job. Errors end the process with one line on stderr and
// a non-zero exit code, never a crash.
#include <cstdio>
#include <fmt/format.h>
#include <memory>
#include <exception>
#include <string>
#include <vector>

#include <chrono>
#include <thread>

#include "kernels/cpu/ops.h"
#include "parallel/mpi_runtime.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"

namespace {

constexpr const char* kUsage =
    "usage: shardlm <command> [flags]\n"
    "commands:\n"
    "  generate   continue a prompt with a model (shardlm generate --help)\n"
    "  chat       talk with a chat model in the terminal (shardlm chat --help)\n"
    "  serve      answer gRPC requests with a model, on one rank or many (shardlm serve --help)\n"
    "  client     talk to a running server: generate, chat, health, model info, metrics (shardlm client --help)\n"
    "  inspect    what a checkpoint holds: its model, parameters and tensors (shardlm inspect PATH)\n"
    "  plan       what fits and how fast: memory per rank, speed, layouts (shardlm plan --help)\n"
    "  perplexity how well a model predicts a text, to judge a precision (shardlm perplexity --help)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  // Under mpirun every rank runs this same main; alone, MPI is never started.
  std::unique_ptr<shardlm::MpiRuntime> mpi;
  try {
    mpi = std::make_unique<shardlm::MpiRuntime>(shardlm::MpiStart::when_launched, &argc, &argv);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: cannot start MPI: %s\n", error.what());
    return 1;
  }
  shardlm::cli::set_mpi(mpi.get());
  try {
    // The environment's choices of the kernels, checked before any work: a misspelt value is an
    // error naming it, not a surprise halfway through a prefill.
    shardlm::cpu::simd_level();
    shardlm::cpu::prefill_takes_8_bit_inputs();
    if (command == "generate") return shardlm::cli::generate_command(args);
    if (command == "chat") return shardlm::cli::chat_command(args);
    if (command == "inspect") return shardlm::cli::inspect_command(args);
    if (command == "serve") return shardlm::cli::serve_command(args);
    if (command == "client") return shardlm::cli::client_command(args);
    if (command == "plan") return shardlm::cli::plan_command(args);
    if (command == "perplexity") return shardlm::cli::perplexity_command(args);
    std::fprintf(stderr, "error: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const std::exception& error) {
    if (mpi->size() == 1) {
      std::fprintf(stderr, "error: %s\n", error.what());
      return 1;
    }
    // Other ranks may be waiting for this one in a collective: end the whole job. Most errors (flags,
    // files, a layout the model cannot take) happen alike on every rank; rank 0 reports them, and
    // the others speak only if rank 0 has not ended the job first.
    if (mpi->rank() != 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    std::fprintf(stderr, "error%s: %s\n", mpi->rank() == 0 ? "" : fmt::format(" (rank {})", mpi->rank()).c_str(),
                 error.what());
    std::fflush(stderr);
    mpi->abort(1);
  }
}
