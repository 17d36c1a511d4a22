// The guide's two-round chat ("How many people live in France?", then "And how many are in
// Germany?") on SmolLM2-135M-Instruct, with the guide's system prompt, through the engine: time to
// the first token of round two with the KV cache of round one reused, and recomputed from scratch.
// Prints both and their ratio (issue 5's goal: reuse >= 5x shorter).
//   usage: shardlm_chat_reuse [model] [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "bench/bench_model.h"
#include "runtime/engine/engine.h"
#include "runtime/model/model_loader.h"
#include "runtime/tokenizer/chat_template.h"

using namespace shardlm;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Seconds from submitting round two to its first token, and the prompt tokens it computed.
std::pair<double, int64_t> round_two_ttft(Decoder& decoder, const Tokenizer& tokenizer, const ChatTemplate& chat,
                                          const std::string& system, bool reuse) {
  EngineOptions options;
  options.max_batch = 1;
  options.num_blocks = (decoder.spec().max_seq_len + 15) / 16;
  options.prefix_cache = reuse;
  Engine engine(decoder, options);
  std::vector<ChatMessage> messages = {{"system", system}, {"user", "How many people live in France?"}};
  GenerationRequest first;
  first.prompt = tokenizer.encode(chat.render(messages, true), true);
  first.max_new_tokens = 64;
  first.sampling.temperature = 0;
  engine.submit(first);
  engine.run_to_completion();
  std::string answer;
  for (int32_t token : engine.output(0)) answer += tokenizer.decode(-1, token);
  messages.push_back({"assistant", answer});
  messages.push_back({"user", "And how many are in Germany?"});
  GenerationRequest second;
  second.prompt = tokenizer.encode(chat.render(messages, true), true);
  second.max_new_tokens = 64;
  second.sampling.temperature = 0;
  const int64_t computed_before = engine.counters().computed_prompt_tokens;
  const auto start = std::chrono::steady_clock::now();
  engine.submit(second);
  engine.step();  // round two's prefill and first token
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {seconds, engine.counters().computed_prompt_tokens - computed_before};
}

}  // namespace

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  Decoder& decoder = *bench.decoder;
  const Tokenizer& tokenizer = *bench.tokenizer;
  const ChatTemplate chat = ChatTemplate::from_jinja(read_chat_template_source(bench.path));
  const std::string system = read_text(std::string(SHARDLM_BENCH_DIR) + "/guide_system_prompt.txt");
  const auto [without, computed_without] = round_two_ttft(decoder, tokenizer, chat, system, false);
  const auto [with, computed_with] = round_two_ttft(decoder, tokenizer, chat, system, true);
  std::printf("two-round chat, round two's time to first token (%s, %d threads)\n", bench.path.c_str(), bench.threads);
  std::printf("  recomputed: %8.1f ms (%lld prompt tokens computed)\n", without * 1e3,
              static_cast<long long>(computed_without));
  std::printf("  reused:     %8.1f ms (%lld prompt tokens computed)\n", with * 1e3,
              static_cast<long long>(computed_with));
  std::printf("  ratio:      %8.1fx shorter (goal >= 5x)\n", without / with);
  return 0;
}
