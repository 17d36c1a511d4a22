// `shardlm plan` predicts ShardLM's own runs on this machine: the peak resident memory of each rank of
// `shardlm generate` within 5%, and its decode tokens/s within 25%, for stories260K and SmolLM2 (its
// Q4_1 GGUF dequantized to f32 at load, --weights f32) at tp 1 and tp 2, SmolLM2 as stored (Q4_1
// in place, the probe's q4_1 decode rate), and 4 layers of Llama-2-7B's shape with random Q4_0 matrices
// and a Q6_K LM head (bench/make_shaped_gguf.py --layers 4, 0.7 GB, written here) at tp 1, tp 2 and
// pp 2: a 7B model's own matrices (9 and 24 MiB, 109 MiB a layer), streamed from memory each token as
// a 7B model's are, through the kernel the probe times for Q4_0. There the prompt is long (156 tokens)
// and prefill tokens/s is checked too (within 25%): the panel product, which the probe times at 256
// rows. The hardware file is what `plan --probe-hardware` measures here (synthetic decoders, the
// attention kernel on synthetic K/V, MPI ranks that only all-reduce): neither model is ever run by
// the probe, so the predictions are not fitted to the runs they are checked against.
// stories260K decodes 400 tokens a run: its steps take some 40 microseconds, and a run of 100 (4 ms)
// is at the mercy of one hiccup of the launcher or the VM's host.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <regex>
#include <thread>

#include "tests/e2e/run_cli.h"

namespace shardlm::testing {
namespace {

const std::string kStories = std::string(SHARDLM_TEST_DATA) + "/stories260K/stories260K.bin";
const std::string kSmolLm2 = std::string(SHARDLM_MODELS_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
const std::string kShaped7b = "llama-2-7b, 4 layers";  // a case's model: written on first use

// The Llama-2-7B-shaped file, written into this process's folder the first time a case asks for it.
std::string shaped_7b_file() {
  static const std::string file = [] {
    const std::string path = temp_dir() + "/llama-2-7b-4-layers.q4_0.gguf";
    const CliResult made = run_program({SHARDLM_PYTHON, std::string(SHARDLM_SOURCE_DIR) + "/bench/make_shaped_gguf.py",
                                        path, "--shape", "llama-2-7b", "--layers", "4"});
    EXPECT_EQ(made.exit_code, 0) << "bench/make_shaped_gguf.py failed (launch/install-deps.sh installs numpy and "
                                    "gguf into .venv): "
                                 << made.err;
    return path;
  }();
  return file;
}
constexpr const char* kPrompt = "Once upon a time";
// 156 tokens in SmolLM2's tokenizer: enough rows for prefill to take the quantized panel product.
std::string long_prompt() {
  std::string text;
  for (int i = 0; i < 12; ++i) text += "Once upon a time, there was a little girl named Lily. ";
  return text;
}

// A fresh probe for each model's runs, taken just before them: this VM's speed drifts over minutes,
// and a prediction is only as good as the hardware file it starts from.
std::string probe_hardware_now() {
  static int probes = 0;
  const std::string file = temp_dir() + "/cpu" + std::to_string(probes++) + ".yaml";
  const CliResult probe = run_cli({"plan", "--probe-hardware", "--out", file});
  EXPECT_EQ(probe.exit_code, 0) << probe.err;
  return file;
}

struct Measured {
  std::vector<double> peak_mib;  // per rank; rank 0 from generate's own statistics
  int prompt_tokens = 0;
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;
};

double number_after(const std::string& text, const std::string& pattern) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex(pattern))) return -1;
  return std::stod(match[1]);
}

// One run of generate, alone or under mpirun with every rank wrapped in /usr/bin/time (when present)
// so that each rank's peak is known, not only rank 0's.
Measured run_generate(const std::string& model, int tp, int pp, int new_tokens, const std::string& weights,
                      const std::string& prompt) {
  const int ranks = tp * pp;
  std::vector<std::string> args = {
      "generate",      "--model", model, "--prompt", prompt, "--max-new-tokens", std::to_string(new_tokens),
      "--temperature", "0"};
  if (!weights.empty()) args.insert(args.end(), {"--weights", weights});
  CliResult run;
  const bool time_ranks = ranks > 1 && ::access("/usr/bin/time", X_OK) == 0;
  if (ranks == 1) {
    run = run_cli(args);
  } else {
    prepare_mpi_environment();
    // As launch/mpirun.sh starts ranks: unbound, and oversubscribed only when there are more ranks
    // than cores (Open MPI's waits then yield the core at every poll, which slows every message).
    std::vector<std::string> argv = {SHARDLM_MPIEXEC, "-np", std::to_string(ranks), "--bind-to", "none"};
    if (ranks > static_cast<int>(std::thread::hardware_concurrency())) argv.push_back("--oversubscribe");
    if (time_ranks) argv.insert(argv.end(), {"/usr/bin/time", "-f", "rank-peak-kb %M"});
    argv.push_back(SHARDLM_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--tp", std::to_string(tp), "--pp", std::to_string(pp)});
    run = run_program(argv);
  }
  EXPECT_EQ(run.exit_code, 0) << run.err;
  Measured m;
  m.prompt_tokens = static_cast<int>(number_after(run.err, "prompt tokens: (\\d+)"));
  m.prefill_tokens_per_s = number_after(run.err, "prefill: ([0-9.]+) tokens/s");
  m.decode_tokens_per_s = number_after(run.err, "decode: ([0-9.]+) tokens/s");
  m.peak_mib.push_back(number_after(run.err, "peak resident memory: ([0-9.]+) MiB \\(rank 0\\)"));
  if (time_ranks) {
    // Ranks finish in any order: compare the set of peaks with the set of predictions.
    m.peak_mib.clear();
    const std::regex line("rank-peak-kb (\\d+)");
    for (auto it = std::sregex_iterator(run.err.begin(), run.err.end(), line); it != std::sregex_iterator(); ++it)
      m.peak_mib.push_back(std::stod((*it)[1]) / 1024.0);
  }
  return m;
}

nlohmann::json predict(const std::string& hardware, const std::string& model, int tp, int pp, int prompt_tokens,
                       int new_tokens, const std::string& weights) {
  std::vector<std::string> args = {"plan", "--model", model, "--hardware", hardware, "--tp", std::to_string(tp),
                                   "--pp", std::to_string(pp), "--prompt-tokens", std::to_string(prompt_tokens), "--output-tokens",
                                   std::to_string(new_tokens), "--json"};
  if (!weights.empty()) args.insert(args.end(), {"--weights", weights});
  const CliResult plan = run_cli(args);
  EXPECT_EQ(plan.exit_code, 0) << plan.err;
  return nlohmann::json::parse(plan.out)["plan"];
}

struct Case {
  std::string name, model;
  int tp;
  int new_tokens;
  int runs;  // the fastest of these is compared: more where a run is short and cheap
  std::string weights = "";  // --weights for both the run and the plan; "" = the checkpoint's own
  bool check_prefill = false;  // a long prompt, and its prefill speed checked as well
  int pp = 1;
};

// Test names and failures show the case's name, not its bytes.
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class PlanPredictsRun : public ::testing::TestWithParam<Case> {};

TEST_P(PlanPredictsRun, PeakMemoryWithin5PercentAndSpeedWithin25Percent) {
  Case c = GetParam();
  const std::string prompt = c.check_prefill ? long_prompt() : kPrompt;
  if (c.model == kSmolLm2 || c.model == kShaped7b) {
    ASSERT_TRUE(std::filesystem::exists(kSmolLm2)) << kSmolLm2 << " is missing: run ./launch/fetch-models.sh";
  }
  if (c.model == kShaped7b) c.model = shaped_7b_file();
  ASSERT_TRUE(std::filesystem::exists(c.model)) << c.model;
  // Other work on this shared VM (its host's other guests, the launcher) only ever slows a run down,
  // in episodes that last seconds; the plan is of the machine undisturbed, as the probe measures it,
  // so the fastest of several runs is compared. An episode can still outlast every run of a round
  // (tp 2 needs both cores at once: on the 2-vCPU Zen 4 VM, stories260K's tp-2 decodes ran at 14-16k
  // or 20-23k tokens/s by the episode, round after round); further rounds of probe and runs, seconds
  // later, tell it from a wrong prediction, which fails them all. Memory is the same in every run and
  // is checked every round.
  constexpr int kRounds = 3;
  for (int round = 1; round <= kRounds; ++round) {
    const std::string hardware = probe_hardware_now();
    std::vector<Measured> runs;
    std::vector<double> peaks;  // per rank, from any run that reported them (mpirun may lose a line)
    for (int attempt = 0; attempt < c.runs; ++attempt) {
      runs.push_back(run_generate(c.model, c.tp, c.pp, c.new_tokens, c.weights, prompt));
      if (runs.back().peak_mib.size() > peaks.size()) peaks = runs.back().peak_mib;
    }
    std::sort(runs.begin(), runs.end(),
              [](const Measured& a, const Measured& b) { return a.decode_tokens_per_s < b.decode_tokens_per_s; });
    Measured best = runs.back();
    best.peak_mib = peaks;
    for (const Measured& run : runs) best.prefill_tokens_per_s = std::max(best.prefill_tokens_per_s, run.prefill_tokens_per_s);
    ASSERT_GT(best.prompt_tokens, 0);
    const nlohmann::json plan = predict(hardware, c.model, c.tp, c.pp, best.prompt_tokens, c.new_tokens, c.weights);

    std::vector<double> predicted;
    for (const auto& rank : plan["ranks"]) predicted.push_back(rank["peak_bytes"].get<double>() / (1024.0 * 1024.0));
    ASSERT_EQ(predicted.size(), static_cast<size_t>(c.tp * c.pp));
    if (best.peak_mib.size() == 1) predicted.resize(1);  // only rank 0's peak is known
    ASSERT_EQ(best.peak_mib.size(), predicted.size());
    std::sort(predicted.begin(), predicted.end());
    std::sort(best.peak_mib.begin(), best.peak_mib.end());
    for (size_t i = 0; i < predicted.size(); ++i) {
      EXPECT_NEAR(predicted[i], best.peak_mib[i], 0.05 * best.peak_mib[i])
          << c.name << ": predicted peak " << predicted[i] << " MiB, measured " << best.peak_mib[i] << " MiB";
    }
    const double speed = plan["speed"]["decode_tokens_per_s"].get<double>();
    const double prefill_speed = best.prompt_tokens / plan["speed"]["prefill_s"].get<double>();
    std::printf("%s round %d: peak MiB predicted/measured", c.name.c_str(), round);
    for (size_t i = 0; i < predicted.size(); ++i) std::printf(" %.1f/%.1f", predicted[i], best.peak_mib[i]);
    std::printf("; decode tokens/s predicted/measured %.1f/%.1f", speed, best.decode_tokens_per_s);
    if (c.check_prefill) std::printf("; prefill %.1f/%.1f", prefill_speed, best.prefill_tokens_per_s);
    std::printf("\n");
    const bool decode_within = std::abs(speed - best.decode_tokens_per_s) <= 0.25 * best.decode_tokens_per_s;
    const bool prefill_within = !c.check_prefill ||
                                std::abs(prefill_speed - best.prefill_tokens_per_s) <= 0.25 * best.prefill_tokens_per_s;
    if (decode_within && prefill_within) break;
    if (round == kRounds) {
      if (!decode_within) {
        ADD_FAILURE() << c.name << ": predicted decode " << speed << " tokens/s, measured " << best.decode_tokens_per_s
                      << " (not within 25% in " << kRounds << " rounds)";
      }
      if (!prefill_within) {
        ADD_FAILURE() << c.name << ": predicted prefill " << prefill_speed << " tokens/s, measured "
                      << best.prefill_tokens_per_s << " (not within 25% in " << kRounds << " rounds)";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Runs, PlanPredictsRun,
                         ::testing::Values(Case{"stories260K_tp1", kStories, 1, 400, 9},
                                           Case{"stories260K_tp2", kStories, 2, 400, 9},
                                           Case{"smollm2_tp1", kSmolLm2, 1, 100, 5, "f32"},
                                           Case{"smollm2_tp2", kSmolLm2, 2, 100, 5, "f32"},
                                           Case{"smollm2_stored_tp1", kSmolLm2, 1, 100, 3, ""},
                                           Case{"llama2_7b_shape_q4_0_tp1", kShaped7b, 1, 32, 3, "", true},
                                           Case{"llama2_7b_shape_q4_0_tp2", kShaped7b, 2, 32, 3, "", true},
                                           Case{"llama2_7b_shape_q4_0_pp2", kShaped7b, 1, 32, 3, "", true, 2}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace shardlm::testing
