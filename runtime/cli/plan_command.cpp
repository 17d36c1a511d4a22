// `shardlm plan`: what fits and how fast, from a model description alone. Memory per rank from the
// runtime's own accounting (runtime/plan/), speed by roofline, every layout of a device count ranked,
// the fewest devices for a target; a table, --json, or an SVG (--plot). --probe-hardware measures this
// machine and writes the cpu hardware file the plan of a local run reads.
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string>

#include "kernels/cpu/amx.h"
#include "runtime/cli/args.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/plan_model.h"
#include "runtime/cli/plan_probe.h"
#include "runtime/core/check.h"
#include "runtime/core/write_file.h"
#include "runtime/plan/recommend.h"
#include "runtime/plan/report.h"
#include "runtime/plan/svg_plot.h"

namespace shardlm::cli {
namespace {

constexpr const char* kUsage =
    "usage: shardlm plan --model M --hardware H (--gpus N | --tp T --pp P) [flags]\n"
    "       shardlm plan --probe-hardware [--out FILE.yaml]\n"
    "  --model            a preset (configs/models: llama-2-70b, octocoder, ...), a preset YAML file, or a\n"
    "                     checkpoint (Hugging Face directory, GGUF, llama2.c .bin)\n"
    "  --hardware         a preset (configs/hardware: a100-40g, a100-80g, h100-80g, h200, cpu) or a YAML file\n"
    "  --gpus N           rank every layout of N devices (tp x pp = N) and precision that fits\n"
    "  --tp, --pp         one layout (default 1 x 1); --pp-layers 3,2 as generate takes it\n"
    "  --weights          f32, f16, bf16, int8, int4 (default: a checkpoint's runtime dtype, else bf16;\n"
    "                     with --gpus and no --weights every precision is tried)\n"
    "  --kv-dtype         f32, f16, bf16, int8 (default: f32 on cpu, as the runtime's pool; else bf16)\n"
    "  --context N        tokens a sequence may reach (default: the model's)\n"
    "  --concurrency N    sequences decoded together (default 1)\n"
    "  --prompt-tokens N  --output-tokens N   per request (defaults 512, 128)\n"
    "  --max-step-tokens  chunked prefill budget (default 0 = whole prompts)\n"
    "  --threads N        cpu: threads per rank (default: cores / ranks)\n"
    "  --kv-cache-memory  a fixed KV pool per rank (512M, 2GiB), as generate takes it\n"
    "  --rank-by          throughput (default) or latency\n"
    "  --target-throughput X | --target-itl-ms X   also find the fewest devices that meet it\n"
    "  --max-gpus N       search limit for the fewest devices (default 64)\n"
    "  --json             machine-readable output\n"
    "  --plot FILE.svg    memory per rank and throughput vs concurrency\n";

std::vector<int64_t> parse_layers(const std::string& text) {
  std::vector<int64_t> layers;
  std::string item;
  for (size_t at = 0; at <= text.size(); ++at) {
    if (at < text.size() && text[at] != ',') {
      item += text[at];
      continue;
    }
    char* end = nullptr;
    const long long count = std::strtoll(item.c_str(), &end, 10);
    SHARDLM_CHECK(!item.empty() && *end == '\0' && count > 0, "--pp-layers expects positive counts like 3,2; got '{}'",
                  text);
    layers.push_back(count);
    item.clear();
  }
  return layers;
}

int probe_command(Args& args) {
  const auto out = args.text("out");
  args.reject_unused();
  const plan::Hardware hardware = probe_hardware();
  // AMX is probed here (not at start-up) because the probe forks; the kernels do not use tiles yet.
  const cpu::AmxStatus& amx = cpu::amx_status();
  const std::string yaml = plan::hardware_yaml(
      hardware, fmt::format("measured by `shardlm plan --probe-hardware` on this machine; AMX {}: {}",
                            amx.usable ? "usable (no kernel uses it yet)" : "not used", amx.reason));
  if (!out) {
    std::fputs(yaml.c_str(), stdout);
    return 0;
  }
  write_file(*out, yaml, "--out");
  std::printf("wrote %s: %.1f GB/s with %d thread(s), %.1f GFLOP/s f32\n", out->c_str(),
              hardware.memory_bandwidth / 1e9, hardware.threads, hardware.flops.at(plan::NumberFormat::f32) / 1e9);
  return 0;
}

// --prompt-tokens and --output-tokens default to 512 + 128, more than a small model's context holds
// (stories260K's is 512). Defaults the user never typed shrink to fit, keeping their 4 : 1 split,
// and a note says so; a length the user gave stays, and make_plan refuses it when it does not fit.
void fit_default_lengths(plan::Workload& workload, int64_t model_context, bool prompt_given, bool output_given,
                         const std::string& model_name) {
  const int64_t context = workload.context > 0 ? workload.context : model_context;
  if (context <= 1 || workload.prompt_tokens + workload.output_tokens <= context || (prompt_given && output_given))
    return;
  const int64_t prompt = workload.prompt_tokens, output = workload.output_tokens;
  if ((prompt_given && prompt >= context) || (output_given && output >= context)) return;  // the user's own error
  if (prompt_given) {
    workload.output_tokens = context - prompt;
  } else if (output_given) {
    workload.prompt_tokens = context - output;
  } else {
    workload.prompt_tokens = std::max<int64_t>(1, context * prompt / (prompt + output));
    workload.output_tokens = context - workload.prompt_tokens;
  }
  std::fprintf(stderr, "note: %lld prompt + %lld output tokens exceed %s's context of %lld; planning %lld + %lld "
               "(set --prompt-tokens and --output-tokens to choose)\n",
               static_cast<long long>(prompt), static_cast<long long>(output), model_name.c_str(),
               static_cast<long long>(context), static_cast<long long>(workload.prompt_tokens),
               static_cast<long long>(workload.output_tokens));
}

}  // namespace

int plan_command(const std::vector<std::string>& argv) {
  Args args(argv, {"help", "json", "probe-hardware", "probe-ranks"});
  if (args.has_switch("help")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (args.has_switch("probe-ranks")) return probe_ranks();
  if (args.has_switch("probe-hardware")) return probe_command(args);

  const PlanModel model = read_plan_model(args.required_text("model"));
  const plan::Hardware hardware = plan::find_hardware(args.required_text("hardware"));
  const bool json = args.has_switch("json");
  const auto plot = args.text("plot");
  const int64_t kIntMax = std::numeric_limits<int32_t>::max();

  plan::Workload workload;
  workload.context = args.integer("context", 0, 1, kIntMax);
  workload.concurrency = args.integer("concurrency", 1, 1, 1 << 20);
  workload.prompt_tokens = args.integer("prompt-tokens", 512, 1, kIntMax);
  workload.output_tokens = args.integer("output-tokens", 128, 1, kIntMax);
  workload.max_step_tokens = args.integer("max-step-tokens", 0, 0, 1 << 24);
  workload.threads = static_cast<int>(args.integer("threads", 0, 1, 1024));
  if (const auto kv = args.text("kv-cache-memory"))
    workload.kv_cache_bytes = plan::parse_size(*kv, "--kv-cache-memory");
  if (workload.context == 0 && model.spec.max_seq_len <= 0) workload.context = 0;
  fit_default_lengths(workload, model.spec.max_seq_len, args.text("prompt-tokens").has_value(),
                      args.text("output-tokens").has_value(), model.name);

  const auto weights_flag = args.text("weights");
  const auto kv_flag = args.text("kv-dtype");
  const plan::NumberFormat kv = kv_flag ? plan::parse_format(*kv_flag, "--kv-dtype")
                                        : (hardware.cpu ? plan::NumberFormat::f32 : plan::NumberFormat::bf16);
  SHARDLM_CHECK(kv != plan::NumberFormat::int4, "--kv-dtype int4 is not a KV cache precision (f32, f16, bf16, int8)");
  const plan::NumberFormat default_weights = model.load.present ? model.runtime_weights : plan::NumberFormat::bf16;
  const std::string rank_by_text = args.text("rank-by").value_or("throughput");
  SHARDLM_CHECK(rank_by_text == "throughput" || rank_by_text == "latency",
                "--rank-by expects throughput or latency, got '{}'", rank_by_text);
  const plan::RankBy rank_by = rank_by_text == "latency" ? plan::RankBy::latency : plan::RankBy::throughput;
  plan::Target target;
  target.throughput = args.real("target-throughput", 0, 0, 1e12);
  target.itl_s = args.real("target-itl-ms", 0, 0, 1e9) / 1e3;
  const int max_gpus = static_cast<int>(args.integer("max-gpus", 64, 1, 4096));

  const auto gpus_flag = args.text("gpus");
  const auto tp_flag = args.text("tp"), pp_flag = args.text("pp");
  const int gpus = static_cast<int>(args.integer("gpus", 1, 1, 4096));
  plan::Layout layout;
  layout.tp = static_cast<int>(args.integer("tp", 1, 1, 4096));
  layout.pp = static_cast<int>(args.integer("pp", 1, 1, 4096));
  if (const auto layers = args.text("pp-layers")) layout.pp_layers = parse_layers(*layers);
  layout.weights = weights_flag ? plan::parse_format(*weights_flag, "--weights") : default_weights;
  layout.kv = kv;
  args.reject_unused();
  SHARDLM_CHECK(!gpus_flag || (!tp_flag && !pp_flag) || layout.tp * layout.pp == gpus,
                "--tp {} x --pp {} = {} ranks, but --gpus says {}", layout.tp, layout.pp, layout.tp * layout.pp, gpus);

  std::vector<plan::Plan> ranked;
  if (gpus_flag && !tp_flag && !pp_flag) {
    std::vector<plan::NumberFormat> formats = {plan::NumberFormat::f32, plan::NumberFormat::f16,
                                               plan::NumberFormat::bf16, plan::NumberFormat::int8,
                                               plan::NumberFormat::int4};
    if (weights_flag) formats = {layout.weights};
    ranked = plan::feasible_layouts(model.spec, hardware, gpus, formats, kv, workload, rank_by);
    if (!ranked.empty()) {
      layout = ranked.front().layout;
    } else {
      layout.tp = gpus;  // show why the widest tensor-parallel layout does not fit
      layout.pp = 1;
      if (gpus > model.spec.heads) layout.tp = 1, layout.pp = gpus;
    }
  }
  // Weights in another precision than the checkpoint's own are converted after the cut: each rank's
  // matrices are heap copies then, not views of the mapped file.
  plan::CheckpointLoad load = model.load;
  if (load.present && layout.weights != model.runtime_weights) {
    load.matrices_converted = true;
    load.embedding_viewed = false;
  }
  const plan::Plan chosen = plan::make_plan(model.spec, hardware, layout, workload, load);
  std::optional<plan::Plan> fewest;
  const bool want_fewest = target.throughput > 0 || target.itl_s > 0;
  if (want_fewest) {
    std::vector<plan::NumberFormat> formats = {layout.weights};
    if (!weights_flag) formats = {plan::NumberFormat::bf16, plan::NumberFormat::int8, plan::NumberFormat::int4};
    fewest = plan::fewest_devices(model.spec, hardware, formats, kv, workload, target, rank_by, max_gpus);
  }

  std::vector<std::pair<int64_t, double>> curve;
  for (int64_t c = 1; c <= 1024; c *= 2) {
    if (c > 1 && chosen.largest().kv_tokens_fit < c * (workload.prompt_tokens + workload.output_tokens)) break;
    curve.push_back({c, plan::plan_speed(model.spec, hardware, chosen, c).throughput});
  }
  if (plot) {
    write_file(*plot,
               plan::plan_svg(fmt::format("{} on {} x {}: tp {} x pp {}, {} weights", model.name, layout.ranks(),
                                          hardware.name, layout.tp, layout.pp, plan::format_name(layout.weights)),
                              chosen, hardware.memory_bytes, curve),
               "--plot");
  }

  if (json) {
    nlohmann::json out = {{"plan", plan::plan_json(model.name, model.spec, hardware, chosen)}};
    nlohmann::json layouts = nlohmann::json::array();
    for (const auto& p : ranked) layouts.push_back(plan::layout_summary_json(p));
    if (gpus_flag && !tp_flag && !pp_flag) out["layouts"] = layouts;
    nlohmann::json points = nlohmann::json::array();
    for (const auto& [c, rate] : curve) points.push_back({{"concurrency", c}, {"throughput_tokens_per_s", rate}});
    out["throughput_vs_concurrency"] = points;
    if (want_fewest) {
      out["fewest"] =
          fewest ? nlohmann::json{{"devices", fewest->layout.ranks()}, {"layout", plan::layout_summary_json(*fewest)}}
                 : nlohmann::json(nullptr);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::fputs(plan::plan_table(model.name, model.spec, hardware, chosen).c_str(), stdout);
  if (gpus_flag && !tp_flag && !pp_flag) {
    std::printf("\nlayouts of %d x %s that fit, by %s:\n", gpus, hardware.name.c_str(), rank_by_text.c_str());
    std::fputs(plan::layouts_table(ranked, 20).c_str(), stdout);
  }
  if (want_fewest) {
    if (fewest) {
      std::printf("\nfewest devices for the target: %d (tp %d x pp %d, %s weights: %.1f tokens/s, ITL %.2f ms)\n",
                  fewest->layout.ranks(), fewest->layout.tp, fewest->layout.pp,
                  std::string(plan::format_name(fewest->layout.weights)).c_str(), fewest->speed.throughput,
                  fewest->speed.itl_s * 1e3);
    } else {
      std::printf("\nno layout of up to %d devices meets the target\n", max_gpus);
    }
  }
  if (plot) std::printf("\nplot written to %s\n", plot->c_str());
  return 0;
}

}  // namespace shardlm::cli
