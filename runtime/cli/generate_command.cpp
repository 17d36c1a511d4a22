// `shardlm generate`: the prompt and its continuation to stdout, as llama2.c's run.c prints them,
// and statistics to stderr.
#include <cctype>
#include <chrono>
#include <cstdio>
#include <fmt/format.h>
#include <limits>

#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/engine/generator.h"
#include "runtime/model/model_loader.h"

namespace shardlm::cli {
namespace {

constexpr const char* kUsage =
    "usage: shardlm generate --model PATH [--tokenizer PATH] --prompt TEXT [--max-new-tokens N]\n"
    "                        [--temperature T] [--top-k K] [--top-p P] [--seed S] [--threads N] [--dtype f32|bf16|f16]\n"
    "  --max-new-tokens  tokens to generate (default 256; stops early at the end of the context)\n"
    "  --temperature     0 = greedy (default 1.0)\n"
    "  --top-k           keep the K most likely tokens (default 0 = all)\n"
    "  --top-p           keep the smallest set reaching probability P (default 0.9, as llama2.c)\n"
    "  --seed            random seed (default: from the clock)\n"
    "  --threads         CPU threads (default: all cores this process may use)\n"
    "  --dtype           weight precision in memory (default: the checkpoint's own)\n";

// run.c skips pieces that are a single unprintable byte, so raw control bytes never reach the terminal.
void print_piece(const std::string& piece) {
  if (piece.size() == 1 && !std::isprint(static_cast<unsigned char>(piece[0])) &&
      !std::isspace(static_cast<unsigned char>(piece[0])))
    return;
  std::fwrite(piece.data(), 1, piece.size(), stdout);
}

}  // namespace

int generate_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help"});
  if (args.has_switch("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  const std::string model_path = args.required_text("model");
  const std::string tokenizer_path = args.text("tokenizer").value_or("");
  const std::string prompt = args.required_text("prompt");
  const int64_t max_new_tokens = args.integer("max-new-tokens", 256, 0, std::numeric_limits<int32_t>::max());
  SamplingParams sampling;
  sampling.temperature = static_cast<float>(args.real("temperature", 1.0, 0.0, 1e6));
  sampling.top_k = args.integer("top-k", 0, 0, std::numeric_limits<int32_t>::max());
  sampling.top_p = static_cast<float>(args.real("top-p", 0.9, 0.0, 1.0));
  SHARDLM_CHECK(sampling.top_p > 0.0f, "--top-p must be greater than 0, got {}", sampling.top_p);
  sampling.seed = static_cast<uint64_t>(
      args.integer("seed", std::chrono::system_clock::now().time_since_epoch().count(), 0,
                   std::numeric_limits<int64_t>::max()));
  const int threads = static_cast<int>(args.integer("threads", default_thread_count(), 1, 1024));
  const auto dtype_flag = args.text("dtype");
  const std::optional<DType> weight_dtype = dtype_flag ? std::optional(parse_dtype(*dtype_flag)) : std::nullopt;
  args.reject_unused();
  SHARDLM_CHECK(!prompt.empty(), "--prompt is empty: give some text to continue");

  LoadedModel loaded = load_model(model_path, weight_dtype);
  auto tokenizer = load_tokenizer(model_path, tokenizer_path, loaded.spec);
  const std::vector<int32_t> prompt_ids = tokenizer->encode(prompt, /*add_bos=*/true);
  SHARDLM_CHECK(static_cast<int64_t>(prompt_ids.size()) <= loaded.spec.max_seq_len,
                "the prompt is {} tokens, longer than the model's context of {} tokens", prompt_ids.size(),
                loaded.spec.max_seq_len);
  if (static_cast<int64_t>(prompt_ids.size()) + max_new_tokens > loaded.spec.max_seq_len + 1) {
    std::fprintf(stderr, "note: the context of %lld tokens ends before %lld new tokens; generation stops there\n",
                 static_cast<long long>(loaded.spec.max_seq_len), static_cast<long long>(max_new_tokens));
  }

  ThreadPool pool(threads);
  Decoder model(std::move(loaded.spec), std::move(loaded.weights), pool);
  Sampler sampler(sampling);

  // The prompt as run.c echoes it: each token's piece after BOS, then the new tokens as they come.
  for (size_t i = 1; i < prompt_ids.size(); ++i) print_piece(tokenizer->decode(prompt_ids[i - 1], prompt_ids[i]));
  std::fflush(stdout);
  int32_t previous = prompt_ids.back();
  const GenerationStats stats = generate(model, prompt_ids, max_new_tokens, sampler, [&](int32_t token) {
    print_piece(tokenizer->decode(previous, token));
    std::fflush(stdout);
    previous = token;
    return true;
  });
  std::fputs("\n", stdout);
  std::fflush(stdout);

  std::fprintf(stderr,
               "prompt tokens: %lld, generated tokens: %lld | prefill: %.1f tokens/s | decode: %.1f tokens/s | "
               "threads: %d | peak resident memory: %.1f MiB\n",
               static_cast<long long>(stats.prompt_tokens), static_cast<long long>(stats.generated_tokens),
               stats.prefill_tokens_per_second(), stats.decode_tokens_per_second(), threads,
               peak_resident_bytes() / (1024.0 * 1024.0));
  return 0;
}

}  // namespace shardlm::cli
