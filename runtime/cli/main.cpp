// shardlm: one binary, one subcommand per job. Errors end the process with one line on stderr and
// a non-zero exit code, never a crash.
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "runtime/cli/commands.h"
#include "runtime/core/check.h"

namespace {

constexpr const char* kUsage =
    "usage: shardlm <command> [flags]\n"
    "commands:\n"
    "  generate   continue a prompt with a model (shardlm generate --help)\n"
    "  chat       talk with a chat model in the terminal (shardlm chat --help)\n"
    "  inspect    what a checkpoint holds: its model, parameters and tensors (shardlm inspect PATH)\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "generate") return shardlm::cli::generate_command(args);
    if (command == "chat") return shardlm::cli::chat_command(args);
    if (command == "inspect") return shardlm::cli::inspect_command(args);
    std::fprintf(stderr, "error: unknown command '%s'\n%s", command.c_str(), kUsage);
    return 2;
  } catch (const shardlm::Error& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return 1;
  }
}
