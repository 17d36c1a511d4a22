// `shardlm generate`: the prompt and its continuation to stdout, as llama2.c's run.c prints them,
// and statistics to stderr.
#include <cstdio>
#include <fstream>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <string>

#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/engine/batch_generator.h"
#include "runtime/engine/generator.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::cli {
namespace {

// Several prompts as one continuously batched workload; each result printed whole, in prompt order.
// Request i samples with seed + i, so each is reproducible and independent of the others.
int generate_several(const ModelFlags& model_flags, const std::vector<std::string>& argv,
                     const std::vector<std::string>& prompts, int64_t max_new_tokens, int64_t max_batch,
                     const SamplingParams& sampling, Args& args) {
  SHARDLM_CHECK(mpi().size() == 1, "several prompts across ranks are not supported yet; run them on one rank");
  SHARDLM_CHECK(max_new_tokens >= 1, "--max-new-tokens must be at least 1 with several prompts");
  Session session = open_session(model_flags, fmt::format("generate {}", fmt::join(argv, "\x1f")));
  const int64_t blocks = kv_blocks_from_flag(args, *session.decoder, 16, max_batch, session.decoder->spec().max_seq_len);
  args.reject_unused();
  const Tokenizer& tokenizer = *session.tokenizer;
  std::vector<GenerationRequest> requests;
  for (size_t i = 0; i < prompts.size(); ++i) {
    GenerationRequest r;
    r.prompt = tokenizer.encode(prompts[i], /*add_bos=*/true);
    r.max_new_tokens = max_new_tokens;
    r.sampling = sampling;
    r.sampling.seed = sampling.seed + i;
    requests.push_back(std::move(r));
  }
  EngineCounters stats;
  double seconds = 0;
  const auto outputs = generate_batch(*session.decoder, requests, max_batch, &stats, &seconds, blocks);
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::vector<int32_t>& ids = requests[i].prompt;
    const bool starts_with_bos = ids.front() == tokenizer.bos();
    TokenTextStream text(tokenizer, starts_with_bos ? ids.front() : -1);
    std::string out;
    for (size_t t = starts_with_bos ? 1 : 0; t < ids.size(); ++t) out += text.push(ids[t]);
    for (int32_t token : outputs[i]) out += text.push(token);
    print_text(out + text.finish() + "\n");
  }
  std::fprintf(stderr,
               "prompts: %zu, generated tokens: %lld in %lld steps | %.1f tokens/s | largest batch: %lld | "
               "preemptions: %lld | KV blocks: %lld | peak resident memory: %.1f MiB\n",
               prompts.size(), static_cast<long long>(stats.generated_tokens), static_cast<long long>(stats.steps),
               seconds > 0 ? stats.generated_tokens / seconds : 0.0,
               static_cast<long long>(stats.largest_batch), static_cast<long long>(stats.preemptions),
               static_cast<long long>(blocks), peak_resident_bytes() / (1024.0 * 1024.0));
  return 0;
}

}  // namespace

int generate_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help"}, {"prompt"});
  if (args.has_switch("help")) {
    std::printf("usage: shardlm generate --model PATH --prompt TEXT [--max-new-tokens N] [flags]\n"
                "  --prompt          the text to continue; repeat it, or give --prompts-file FILE (one prompt a\n"
                "                    line), to run several prompts as one continuously batched workload\n"
                "  --max-batch       sequences in flight at once with several prompts (default 16)\n"
                "  --max-new-tokens  tokens to generate (default 256; stops early at a stop token or the context's end)\n"
                "%s%s  (--temperature defaults to 1.0)\n",
                kModelFlagsHelp, kSamplingFlagsHelp);
    return 0;
  }
  const ModelFlags model_flags = read_model_flags(args);
  std::vector<std::string> prompts = args.texts("prompt");
  if (const auto file = args.text("prompts-file")) {
    std::ifstream in(*file);
    SHARDLM_CHECK(in.good(), "cannot read --prompts-file '{}'", *file);
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) prompts.push_back(line);
    SHARDLM_CHECK(!prompts.empty(), "--prompts-file '{}' holds no prompt", *file);
  }
  SHARDLM_CHECK(!prompts.empty(), "missing required flag --prompt (or --prompts-file)");
  const int64_t max_new_tokens = args.integer("max-new-tokens", 256, 0, std::numeric_limits<int32_t>::max());
  const int64_t max_batch = args.integer("max-batch", 16, 1, 4096);
  const SamplingParams sampling = read_sampling_flags(args, 1.0);
  if (prompts.size() == 1) args.reject_unused();  // several prompts read --kv-cache-memory once the model is known
  for (const auto& prompt : prompts) SHARDLM_CHECK(!prompt.empty(), "--prompt is empty: give some text to continue");
  if (prompts.size() > 1) return generate_several(model_flags, argv, prompts, max_new_tokens, max_batch, sampling, args);
  const std::string& prompt = prompts.front();

  Session session = open_session(model_flags, fmt::format("generate {}", fmt::join(argv, "\x1f")));
  const RankLinks links{session.world, session.world_comm.get()};
  // Each rank's weight bytes, gathered on every rank by summing one slot per rank.
  std::vector<float> weight_mib(session.world.world, 0.0f);
  weight_mib[session.world.rank] = static_cast<float>(session.decoder->weight_bytes() / (1024.0 * 1024.0));
  session.world_comm->all_reduce(weight_mib.data(), weight_mib.size());
  if (!session.coordinator()) {  // the other ranks follow rank 0's steps
    generate(*session.decoder, links, {}, 0, nullptr, nullptr);
    return 0;
  }
  const ModelSpec& spec = session.decoder->spec();
  const Tokenizer& tokenizer = *session.tokenizer;
  const std::vector<int32_t> prompt_ids = tokenizer.encode(prompt, /*add_bos=*/true);
  SHARDLM_CHECK(static_cast<int64_t>(prompt_ids.size()) <= spec.max_seq_len,
                "the prompt is {} tokens, longer than the model's context of {} tokens", prompt_ids.size(),
                spec.max_seq_len);
  if (static_cast<int64_t>(prompt_ids.size()) + max_new_tokens > spec.max_seq_len + 1) {
    std::fprintf(stderr, "note: the context of %lld tokens ends before %lld new tokens; generation stops there\n",
                 static_cast<long long>(spec.max_seq_len), static_cast<long long>(max_new_tokens));
  }
  Sampler sampler(sampling);

  // The prompt as run.c echoes it: each token's text after BOS, then the new tokens as they come,
  // through one stream so that a character split across tokens comes out whole.
  const bool starts_with_bos = prompt_ids.front() == tokenizer.bos();
  TokenTextStream text(tokenizer, starts_with_bos ? prompt_ids.front() : -1);
  for (size_t i = starts_with_bos ? 1 : 0; i < prompt_ids.size(); ++i) print_text(text.push(prompt_ids[i]));
  const GenerationStats stats = generate(*session.decoder, links, prompt_ids, max_new_tokens, &sampler, [&](int32_t token) {
    print_text(text.push(token));
    return true;
  });
  print_text(text.finish() + "\n");

  std::fprintf(stderr,
               "prompt tokens: %lld, generated tokens: %lld | prefill: %.1f tokens/s | decode: %.1f tokens/s | "
               "ranks: %d (tp %d, pp %d) | threads: %d | peak resident memory: %.1f MiB (rank 0) | "
               "weights per rank: %s MiB\n",
               static_cast<long long>(stats.prompt_tokens), static_cast<long long>(stats.generated_tokens),
               stats.prefill_tokens_per_second(), stats.decode_tokens_per_second(), session.world.world,
               session.world.tp, session.world.pp, session.pool->size(),
               peak_resident_bytes() / (1024.0 * 1024.0), fmt::format("{:.1f}", fmt::join(weight_mib, ", ")).c_str());
  return 0;
}

}  // namespace shardlm::cli
