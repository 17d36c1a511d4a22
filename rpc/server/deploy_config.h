// The deploy file (configs/deploy/*.yaml) of `shardlm serve`: a flat map of keys, each of which is
// also a flag (max_batch <-> --max-batch) that wins over the file. The file is turned into flags, so
// every value is checked once, by the same code, whichever way it came; errors name the file's key.
#pragma once

#include <string>
#include <vector>

namespace shardlm::rpc {

struct DeployKey {
  const char* name;  // as in the file; the flag is --name with '_' as '-'
  const char* help;
};
// Every key, in the order configs/deploy/README.md documents them.
const std::vector<DeployKey>& deploy_keys();

std::string flag_of_key(const std::string& key);  // max_batch -> max-batch

// The file's keys as `--flag value` pairs. Throws naming the file and key for a key no one knows, a
// value that is not a scalar (pp_layers may also be a list of numbers), or YAML that does not parse.
std::vector<std::string> deploy_file_as_flags(const std::string& path);

// `file_flags` then `command_line`, without the file's flags that the command line gives again.
std::vector<std::string> merge_deploy_flags(const std::vector<std::string>& file_flags,
                                            const std::vector<std::string>& command_line);

}  // namespace shardlm::rpc
