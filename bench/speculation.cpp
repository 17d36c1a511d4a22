// Speculative decoding on the guide's long prompt (its system prompt ten times, then the
// bytes-to-gigabytes question) with SmolLM2-135M-Instruct: 60 new tokens, greedy; decode time of plain
// decoding, of prompt-lookup speculation and, given a draft model, of draft-model speculation, with
// tokens/s and the ratio to plain (issue 5's goal: >= 1.5x). Every run must give the same tokens.
//   usage: shardlm_speculation [model] [threads] [draft tokens] [draft model]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "bench/bench_model.h"
#include "runtime/engine/draft_model.h"
#include "runtime/engine/generator.h"
#include "runtime/engine/speculative.h"
#include "runtime/model/model_loader.h"

using namespace shardlm;

int main(int argc, char** argv) {
  BenchModel bench = load_bench_model(argc, argv);
  Decoder& decoder = *bench.decoder;
  const Tokenizer& tokenizer = *bench.tokenizer;
  const ModelSpec& spec = bench.model.spec;
  const int64_t draft_tokens = argc > 3 ? std::atoll(argv[3]) : 8;
  const std::string draft_path = argc > 4 ? argv[4] : "";
  std::ifstream in(std::string(SHARDLM_BENCH_DIR) + "/guide_system_prompt.txt");
  std::stringstream system;
  system << in.rdbuf();
  std::string prompt_text;
  for (int i = 0; i < 10; ++i) prompt_text += system.str();
  // As the guide's long-prompt experiment has it (../shared/GUIDE.md): the question, ending "Answer: Here".
  prompt_text += "Question: Please write a function in Python that transforms bytes to Giga bytes.\n\nAnswer: Here";

  const auto prompt = tokenizer.encode(prompt_text, true);
  constexpr int64_t kNewTokens = 60;
  const SamplingParams greedy_params{0.0f, 0, 1.0f, 0};

  std::vector<int32_t> plain;
  Sampler greedy(greedy_params);
  const GenerationStats base = generate(decoder, prompt, kNewTokens, greedy, [&](int32_t t) {
    plain.push_back(t);
    return true;
  });
  std::printf("speculative decoding: %s, %zu prompt tokens, %zu new tokens, %d threads, drafts of up to %lld\n",
              bench.path.c_str(), prompt.size(), plain.size(), bench.threads, static_cast<long long>(draft_tokens));
  std::string output;
  for (size_t i = 0; i < plain.size(); ++i) output += tokenizer.decode(i == 0 ? prompt.back() : plain[i - 1], plain[i]);
  std::printf("  output: %s\n", output.c_str());
  std::printf("  %-25s %7.2f s decoding, %6.1f tokens/s, %3zu passes\n", "plain:", base.decode_seconds,
              (plain.size() - 1) / base.decode_seconds, plain.size() - 1);
  bool all_same = true;
  auto report = [&](const char* name, Drafter& drafter) {
    std::vector<int32_t> tokens;
    const SpeculationStats spec =
        generate_speculative(decoder, drafter, prompt, kNewTokens, draft_tokens, greedy_params, [&](int32_t t) {
          tokens.push_back(t);
          return true;
        });
    const bool same = tokens == plain;
    all_same = all_same && same;
    std::printf("  %-25s %7.2f s decoding, %6.1f tokens/s, %3lld passes, %lld of %lld drafted tokens kept; "
                "%.2fx plain (goal >= 1.5x); same tokens: %s\n",
                name, spec.decode_seconds, (tokens.size() - 1) / spec.decode_seconds,
                static_cast<long long>(spec.passes), static_cast<long long>(spec.accepted),
                static_cast<long long>(spec.drafted), base.decode_seconds / spec.decode_seconds, same ? "yes" : "NO");
  };
  PromptLookupDrafter fixed(/*adaptive=*/false), adaptive(/*adaptive=*/true);
  report("prompt lookup, fixed:", fixed);
  report("prompt lookup, adaptive:", adaptive);
  if (!draft_path.empty()) {
    LoadedModel draft_model = load_model(draft_path, std::nullopt);
    Decoder draft_decoder(draft_model.spec, draft_model.weights, *bench.pool);
    DraftModelDrafter drafter(draft_decoder, spec, static_cast<int64_t>(prompt.size()) + kNewTokens + draft_tokens,
                              greedy_params);
    // The draft model's prefill of the prompt happens in its first draft, so it counts as decoding.
    report("draft model:", drafter);
  }
  return all_same ? 0 : 1;
}
