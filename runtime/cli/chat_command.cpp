// `shardlm chat`: an interactive multi-turn chat in the terminal. Each line on stdin is a user turn;
// the model's answer streams to stdout. The conversation is rendered with the model's own chat
// template every turn. (The prompt is recomputed each turn; reusing the KV cache across turns comes
// with the engine's prefix cache.)
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
#include "runtime/engine/generator.h"
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

  const std::string template_source = read_chat_template_source(model_flags.model_path);
  SHARDLM_CHECK(!template_source.empty(), "'{}' carries no chat template, so it is not a chat model; use generate",
                model_flags.model_path);
  const ChatTemplate chat = ChatTemplate::from_jinja(template_source);
  Session session = open_session(model_flags, fmt::format("chat {}", fmt::join(argv, "\x1f")));
  const RankLinks links{session.world, session.world_comm.get()};
  // Before each turn rank 0 tells the others whether one follows; they then follow its steps.
  auto announce = [&](int32_t more) {
    session.world_comm->broadcast(&more, sizeof(more), 0);
    return more != 0;
  };
  // On one rank the engine keeps the conversation's KV blocks between turns, so each turn computes
  // only its new tokens (across ranks the engine is not distributed yet: each turn is recomputed).
  std::unique_ptr<Engine> engine;
  if (session.world.world == 1) {
    EngineOptions options;
    options.max_batch = 1;
    options.num_blocks = kv_blocks_from_flag(args, *session.decoder, options.block_size, 1,
                                             session.decoder->spec().max_seq_len);
    engine = std::make_unique<Engine>(*session.decoder, options);
  }
  args.reject_unused();
  if (!session.coordinator()) {
    while (announce(0)) generate(*session.decoder, links, {}, 0, nullptr, nullptr);
    return 0;
  }
  const Tokenizer& tokenizer = *session.tokenizer;
  const ModelSpec& spec = session.decoder->spec();
  Sampler sampler(sampling);

  std::vector<ChatMessage> messages;
  if (system) messages.push_back({"system", *system});
  const bool interactive = isatty(STDIN_FILENO) == 1;
  for (;;) {
    if (interactive) std::fputs("> ", stderr);
    std::string line;
    if (!std::getline(std::cin, line) || line.empty()) {
      announce(0);
      break;
    }
    messages.push_back({"user", line});
    const std::vector<int32_t> prompt = tokenizer.encode(chat.render(messages, true), /*add_bos=*/true);
    SHARDLM_CHECK(static_cast<int64_t>(prompt.size()) < spec.max_seq_len,
                  "the conversation ({} tokens) has filled the model's context of {} tokens", prompt.size(),
                  spec.max_seq_len);
    std::vector<int32_t> answer;
    TokenTextStream text(tokenizer, -1);
    auto show = [&](int32_t token) {
      answer.push_back(token);
      print_text(text.push(token));
    };
    if (engine) {
      const EngineCounters before = engine->counters();
      GenerationRequest request{prompt, max_new_tokens, sampling};
      request.sampling.seed = sampling.seed + messages.size();  // each turn its own, repeatable stream
      engine->submit(std::move(request));
      engine->run_to_completion([&](int64_t, int32_t token) { show(token); });
      const EngineCounters& after = engine->counters();
      std::fprintf(stderr, "[turn: %zu prompt tokens, %lld reused from the KV cache, %lld computed]\n", prompt.size(),
                   static_cast<long long>(after.reused_prompt_tokens - before.reused_prompt_tokens),
                   static_cast<long long>(after.computed_prompt_tokens - before.computed_prompt_tokens));
    } else {
      announce(1);
      generate(*session.decoder, links, prompt, max_new_tokens, &sampler, [&](int32_t token) {
        show(token);
        return true;
      });
    }
    print_text(text.finish() + "\n");
    // The answer joins the conversation as text, as the template will render it next turn.
    std::string answer_text;
    TokenTextStream whole(tokenizer, -1);
    for (int32_t token : answer) answer_text += whole.push(token);
    messages.push_back({"assistant", answer_text + whole.finish()});
  }
  return 0;
}

}  // namespace shardlm::cli
