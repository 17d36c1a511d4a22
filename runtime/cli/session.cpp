#include "runtime/cli/session.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <limits>

#include "runtime/core/check.h"
#include "runtime/model/model_loader.h"

namespace shardlm::cli {

const char* const kModelFlagsHelp =
    "  --model           a llama2.c .bin, a GGUF file, or a Hugging Face checkpoint directory\n"
    "  --tokenizer       the tokenizer (default: the one in or beside the model)\n"
    "  --threads         CPU threads (default: all cores this process may use)\n"
    "  --dtype           weight precision in memory: f32, bf16, f16 (default: the checkpoint's own)\n";
const char* const kSamplingFlagsHelp =
    "  --temperature     0 = greedy\n"
    "  --top-k           keep the K most likely tokens (default 0 = all)\n"
    "  --top-p           keep the smallest set reaching probability P (default 0.9, as llama2.c)\n"
    "  --seed            random seed (default: from the clock)\n";

ModelFlags read_model_flags(Args& args) {
  ModelFlags flags;
  flags.model_path = args.required_text("model");
  flags.tokenizer_path = args.text("tokenizer").value_or("");
  flags.threads = static_cast<int>(args.integer("threads", default_thread_count(), 1, 1024));
  if (const auto dtype = args.text("dtype")) flags.weight_dtype = parse_dtype(*dtype);
  return flags;
}

SamplingParams read_sampling_flags(Args& args, double default_temperature) {
  SamplingParams sampling;
  sampling.temperature = static_cast<float>(args.real("temperature", default_temperature, 0.0, 1e6));
  sampling.top_k = args.integer("top-k", 0, 0, std::numeric_limits<int32_t>::max());
  sampling.top_p = static_cast<float>(args.real("top-p", 0.9, 0.0, 1.0));
  SHARDLM_CHECK(sampling.top_p > 0.0f, "--top-p must be greater than 0, got {}", sampling.top_p);
  sampling.seed = static_cast<uint64_t>(args.integer("seed", std::chrono::system_clock::now().time_since_epoch().count(),
                                                     0, std::numeric_limits<int64_t>::max()));
  return sampling;
}

Session open_session(const ModelFlags& flags) {
  Session session;
  session.model_path = flags.model_path;
  LoadedModel loaded = load_model(flags.model_path, flags.weight_dtype);
  session.tokenizer = load_tokenizer(flags.model_path, flags.tokenizer_path, loaded.spec);
  session.pool = std::make_unique<ThreadPool>(flags.threads);
  session.decoder = std::make_unique<Decoder>(std::move(loaded.spec), std::move(loaded.weights), *session.pool);
  return session;
}

void print_text(const std::string& text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && !std::isspace(byte)) || byte == 0x7F) continue;
    std::fputc(c, stdout);
  }
  std::fflush(stdout);
}

}  // namespace shardlm::cli
