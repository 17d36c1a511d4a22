// `shardlm chat`: an interactive multi-turn chat in the terminal. Each line on stdin is a user turn;
// the model's answer streams to stdout. The conversation is rendered with the model's own chat
// template every turn, and the engine keeps its KV blocks between turns, so a turn computes only
// its new tokens. Under mpirun rank 0 reads and prints; the other ranks follow its steps.
#include <cstdio>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <iostream>
#include <limits>
#include <string>
#include <unistd.h>

#include "runtime/cli/commands.h"
#include "runtime/cli/session.h"
#include "runtime/core/check.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model_loader.h"
#include "runtime/tokenizer/chat_template.h"
#include "runtime/tokenizer/utf8_streamer.h"

namespace shardlm::cli {

int chat_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help"});
  if (args.has_switch("help")) {
    std::printf("usage: shardlm chat --model PATH [--system TEXT] [--max-new-tokens N] [flags]\n"
                "  one line on stdin is one user turn; an empty line or end of input ends the chat\n"
                "  --system          the system prompt (default: the template's own, if any)\n"
                "  --max-new-tokens  longest answer in tokens (default 512)\n"
                "%s%s  (--temperature defaults to 0.7)\n",
                kModelFlagsHelp, kSamplingFlagsHelp);
    return 0;
  }
  const ModelFlags model_flags = read_model_flags(args);
  const auto system = args.text("system");
  const int64_t max_new_tokens = args.integer("max-new-tokens", 512, 1, std::numeric_limits<int32_t>::max());
  const SamplingParams sampling = read_sampling_flags(args, 0.7);
  const std::optional<double> kv_cache_bytes = read_kv_cache_bytes(args);
  args.reject_unused();  // before loading: a typo must not cost the minutes a large model takes to load

  const std::string template_source = read_chat_template_source(model_flags.model_path);
  SHARDLM_CHECK(!template_source.empty(), "'{}' carries no chat template, so it is not a chat model; use generate",
                model_flags.model_path);
  Session session = open_session(model_flags, fmt::format("chat {}", fmt::join(argv, "\x1f")));
  const ChatTemplate chat = ChatTemplate::from_jinja(template_source, chat_tokens_of(*session.tokenizer));
  const ModelSpec& spec = session.decoder->spec();
  EngineOptions options;
  options.max_batch = 1;
  options.kv_dtype = model_flags.kv_dtype;
  options.num_blocks =
      kv_blocks_for_budget(kv_cache_bytes, *session.decoder, options.kv_dtype, options.block_size, 1, spec.max_seq_len);
  Engine engine(*session.decoder, options, {session.world, session.world_comm.get()});
  if (!session.coordinator()) {
    engine.follow();
    return 0;
  }

  const Tokenizer& tokenizer = *session.tokenizer;
  std::vector<ChatMessage> messages;
  if (system) messages.push_back({"system", *system});
  const bool interactive = isatty(STDIN_FILENO) == 1;
  for (int64_t turn = 0;; ++turn) {
    if (interactive) std::fputs("> ", stderr);
    std::string line;
    if (!std::getline(std::cin, line) || line.empty()) break;
    messages.push_back({"user", line});
    const std::vector<int32_t> prompt = chat.encode(tokenizer, messages, /*add_generation_prompt=*/true);
    SHARDLM_CHECK(static_cast<int64_t>(prompt.size()) < spec.max_seq_len,
                  "the conversation ({} tokens) has filled the model's context of {} tokens", prompt.size(),
                  spec.max_seq_len);
    const EngineCounters before = engine.counters();
    GenerationRequest request;
    request.prompt = prompt;
    request.max_new_tokens = max_new_tokens;
    request.sampling = sampling;
    request.sampling.seed = sampling.seed + turn;  // each turn its own, repeatable stream
    const int64_t id = engine.submit(std::move(request));
    TokenTextStream text(tokenizer, -1);
    engine.run_to_completion([&](int64_t, int32_t token) {
      print_text(text.push(token));
      return true;
    });
    print_text(text.finish() + "\n");
    const EngineCounters& after = engine.counters();
    std::fprintf(stderr, "[turn: %zu prompt tokens, %lld reused from the KV cache, %lld computed]\n", prompt.size(),
                 static_cast<long long>(after.reused_prompt_tokens - before.reused_prompt_tokens),
                 static_cast<long long>(after.computed_prompt_tokens - before.computed_prompt_tokens));
    // The answer joins the conversation as text, as the template will render it next turn.
    std::string answer;
    TokenTextStream whole(tokenizer, -1);
    for (int32_t token : engine.output(id)) answer += whole.push(token);
    messages.push_back({"assistant", answer + whole.finish()});
  }
  engine.stop_followers();
  return 0;
}

}  // namespace shardlm::cli
