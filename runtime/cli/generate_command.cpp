// `shardlm generate`: the prompt and its continuation to stdout, as llama2.c's run.c prints them,
// and statistics to stderr.
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <limits>
#include <string>

#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/core/memory_usage.h"
#include "runtime/engine/generator.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::cli {

int generate_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help"});
  if (args.has_switch("help")) {
    std::printf("usage: shardlm generate --model PATH --prompt TEXT [--max-new-tokens N] [flags]\n"
                "  --prompt          the text to continue\n"
                "  --max-new-tokens  tokens to generate (default 256; stops early at a stop token or the context's end)\n"
                "%s%s  (--temperature defaults to 1.0)\n",
                kModelFlagsHelp, kSamplingFlagsHelp);
    return 0;
  }
  const ModelFlags model_flags = read_model_flags(args);
  const std::string prompt = args.required_text("prompt");
  const int64_t max_new_tokens = args.integer("max-new-tokens", 256, 0, std::numeric_limits<int32_t>::max());
  const SamplingParams sampling = read_sampling_flags(args, 1.0);
  args.reject_unused();
  SHARDLM_CHECK(!prompt.empty(), "--prompt is empty: give some text to continue");

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
