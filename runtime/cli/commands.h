// The subcommands of the `shardlm` binary. Each takes the arguments after its name and returns the
// process exit code; errors are thrown as shardlm::Error and reported by main.
#pragma once

#include <string>
#include <vector>

namespace shardlm::cli {

int generate_command(const std::vector<std::string>& args);
int inspect_command(const std::vector<std::string>& args);
int chat_command(const std::vector<std::string>& args);
int serve_command(const std::vector<std::string>& args);
int client_command(const std::vector<std::string>& args);
int plan_command(const std::vector<std::string>& args);
int perplexity_command(const std::vector<std::string>& args);

}  // namespace shardlm::cli
