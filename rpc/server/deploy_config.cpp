#include "rpc/server/deploy_config.h"

#include <algorithm>
#include <fmt/format.h>
#include <set>
#include <yaml-cpp/yaml.h>

#include "runtime/core/check.h"

namespace shardlm::rpc {

const std::vector<DeployKey>& deploy_keys() {
  static const std::vector<DeployKey> keys = {
      {"model", "a llama2.c .bin, a GGUF file, or a Hugging Face checkpoint directory (required)"},
      {"tokenizer", "the tokenizer, when it is not in or beside the model"},
      {"tp", "tensor-parallel ranks (tp x pp = the ranks mpirun starts; default 1)"},
      {"pp", "pipeline-parallel ranks (default 1)"},
      {"pp_layers", "layers per pipeline stage, e.g. [3, 2] (default: balanced)"},
      {"threads", "CPU threads per rank (default: the node's cores shared among its ranks)"},
      {"weights", "weight precision in memory: f32, bf16, f16, int8 (default: the checkpoint's own)"},
      {"dtype", "the older name of weights"},
      {"kv_cache_memory", "KV cache per rank: bytes (512M, 2G) or a fraction of free memory (0.5); default: "
                          "max_batch full contexts, at most a quarter of free memory"},
      {"kv_dtype", "what the KV cache stores: f32 or bf16 (half the memory per token; default f32)"},
      {"host", "address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)"},
      {"port", "port to listen on (default 50051; 0 picks a free one, printed at start)"},
      {"http_port", "also serve the OpenAI-compatible HTTP API on this port (0 picks a free one); default: no HTTP"},
      {"served_model_name", "the model's name in the HTTP API (/v1/models, a request's \"model\"); default: the model file's name"},
      {"max_batch", "sequences in the running batch at once (default 16)"},
      {"max_queue", "requests queued or running at once; more are answered RESOURCE_EXHAUSTED (default 256)"},
      {"max_step_tokens", "prompt tokens one step may compute, so long prompts do not stall decoding (default 512)"},
      {"tls_cert", "PEM certificate chain: serve TLS (with tls_key)"},
      {"tls_key", "PEM private key of tls_cert"},
      {"auth_token", "bearer token every call must carry (metadata authorization: Bearer <token>)"},
      {"auth_token_file", "a file holding the bearer token (keeps it out of the command line)"},
      {"drain_seconds", "on SIGTERM, how long in-flight requests may still run before they are cancelled (default 30)"},
      {"rank_timeout_seconds", "a step or heartbeat taking longer means a rank is lost (default 60)"},
      {"heartbeat_seconds", "idle time between checks that every rank answers (default 1)"},
  };
  return keys;
}

std::string flag_of_key(const std::string& key) {
  std::string flag = key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::vector<std::string> deploy_file_as_flags(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    SHARDLM_FAIL("cannot read the deploy file '{}'", path);
  } catch (const YAML::Exception& error) {
    SHARDLM_FAIL("{}: not valid YAML: {}", path, error.what());
  }
  if (root.IsNull()) return {};
  SHARDLM_CHECK(root.IsMap(), "{}: expected a map of keys (model: ..., port: ...), got a {}", path,
                root.IsSequence() ? "list" : "single value");
  std::vector<std::string> flags;
  std::set<std::string> seen;
  for (const auto& entry : root) {
    SHARDLM_CHECK(entry.first.IsScalar(), "{}: every key must be a name (see configs/deploy/README.md), got a {}", path,
                  entry.first.IsSequence() ? "list" : entry.first.IsMap() ? "map" : "null");
    const std::string key = entry.first.as<std::string>();
    const bool known = std::any_of(deploy_keys().begin(), deploy_keys().end(),
                                   [&](const DeployKey& k) { return key == k.name; });
    SHARDLM_CHECK(known, "{}: unknown key '{}' (every key is listed in configs/deploy/README.md)", path, key);
    SHARDLM_CHECK(seen.insert(key).second, "{}: key '{}' is given twice", path, key);
    const YAML::Node& value = entry.second;
    std::string text;
    if (key == "pp_layers" && value.IsSequence()) {
      for (size_t i = 0; i < value.size(); ++i) {
        SHARDLM_CHECK(value[i].IsScalar(), "{}: key 'pp_layers' expects a list of layer counts", path);
        if (i > 0) text += ',';
        text += value[i].as<std::string>();
      }
    } else {
      SHARDLM_CHECK(value.IsScalar(), "{}: key '{}' expects a single value, got a {}", path, key,
                    value.IsSequence() ? "list" : value.IsMap() ? "map" : "null");
      text = value.as<std::string>();
    }
    flags.push_back("--" + flag_of_key(key));
    flags.push_back(text);
  }
  return flags;
}

std::vector<std::string> merge_deploy_flags(const std::vector<std::string>& file_flags,
                                            const std::vector<std::string>& command_line) {
  std::set<std::string> given;
  for (const std::string& word : command_line)
    if (word.rfind("--", 0) == 0) given.insert(word);
  std::vector<std::string> merged;
  for (size_t i = 0; i + 1 < file_flags.size(); i += 2) {
    if (given.contains(file_flags[i])) continue;
    merged.push_back(file_flags[i]);
    merged.push_back(file_flags[i + 1]);
  }
  merged.insert(merged.end(), command_line.begin(), command_line.end());
  return merged;
}

}  // namespace shardlm::rpc
