// Prompt-lookup speculation on the guide's long prompt (its system prompt ten times, then the
// bytes-to-gigabytes question) with SmolLM2-135M-Instruct: 60 new tokens, greedy, decode time plain
// and speculative, and the ratio (issue 5's goal: >= 1.5x). Both give the same tokens (checked).
//   usage: shardlm_speculation [model] [threads] [draft tokens]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/engine/generator.h"
#include "runtime/engine/speculative.h"
#include "runtime/model/model_loader.h"

using namespace shardlm;

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  const int threads = argc > 2 ? std::atoi(argv[2]) : default_thread_count();
  const int64_t draft = argc > 3 ? std::atoll(argv[3]) : 8;
  std::ifstream in(std::string(SHARDLM_BENCH_DIR) + "/guide_system_prompt.txt");
  std::stringstream system;
  system << in.rdbuf();
  std::string prompt_text;
  for (int i = 0; i < 10; ++i) prompt_text += system.str();
  prompt_text += "Question: Please write a function in Python that transforms bytes to Giga bytes.\n\nAnswer:";

  LoadedModel model = load_model(path, std::nullopt);
  const auto tokenizer = load_tokenizer(path, "", model.spec);
  ThreadPool pool(threads);
  Decoder decoder(model.spec, model.weights, pool);
  const auto prompt = tokenizer->encode(prompt_text, true);

  std::vector<int32_t> plain, fast;
  Sampler greedy({0.0f, 0, 1.0f, 0});
  const GenerationStats base = generate(decoder, prompt, 60, greedy, [&](int32_t t) {
    plain.push_back(t);
    return true;
  });
  const SpeculationStats spec = generate_greedy_speculative(decoder, prompt, 60, draft, [&](int32_t t) {
    fast.push_back(t);
    return true;
  });
  std::printf("prompt-lookup speculation: %s, %zu prompt tokens, %zu new tokens, %d threads, drafts of %lld\n",
              path.c_str(), prompt.size(), plain.size(), threads, static_cast<long long>(draft));
  std::printf("  plain:       %7.2f s decoding (%.1f tokens/s)\n", base.decode_seconds,
              (plain.size() - 1) / base.decode_seconds);
  std::printf("  speculative: %7.2f s decoding (%.1f tokens/s), %lld passes, %lld of %lld drafted tokens kept\n",
              spec.decode_seconds, (fast.size() - 1) / spec.decode_seconds, static_cast<long long>(spec.passes),
              static_cast<long long>(spec.accepted), static_cast<long long>(spec.drafted));
  std::printf("  ratio:       %7.2fx (goal >= 1.5x); same tokens: %s\n", base.decode_seconds / spec.decode_seconds,
              plain == fast ? "yes" : "NO");
  return plain == fast ? 0 : 1;
}
