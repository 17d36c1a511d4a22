#include "runtime/plan/report.h"

#include <fmt/format.h>

#include <cmath>
#include <vector>

#include "runtime/plan/rank_weights.h"

namespace shardlm::plan {

std::string human_bytes(double bytes) {
  const char* sign = bytes < 0 ? "-" : "";
  bytes = std::fabs(bytes);
  if (bytes >= 1024.0 * 1024 * 1024) return fmt::format("{}{:.2f} GiB", sign, bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024) return fmt::format("{}{:.1f} MiB", sign, bytes / (1024.0 * 1024));
  if (bytes >= 1024.0) return fmt::format("{}{:.1f} KiB", sign, bytes / 1024.0);
  return fmt::format("{}{:.0f} B", sign, bytes);
}

namespace {

std::string seconds(double s) {
  if (s >= 1) return fmt::format("{:.2f} s", s);
  if (s >= 1e-3) return fmt::format("{:.2f} ms", s * 1e3);
  return fmt::format("{:.1f} us", s * 1e6);
}

std::string layout_name(const Layout& l) {
  return fmt::format("tp {} x pp {}, weights {}, KV {}", l.tp, l.pp, format_name(l.weights), format_name(l.kv));
}

}  // namespace

std::string weight_choices_table(const ModelSpec& spec, int tp, int pp, NumberFormat chosen) {
  const RankPlace place = rank_place(spec, tp, pp, 0, 0);
  const double f32 = static_cast<double>(rank_weight_bytes(spec, place, NumberFormat::f32).total());
  const double bf16 = static_cast<double>(rank_weight_bytes(spec, place, NumberFormat::bf16).total());
  std::string out = fmt::format("weights by --weights ({}):\n", tp * pp == 1 ? "the whole model"
                                                                             : fmt::format("rank 0 of tp {} x pp {}", tp, pp));
  std::vector<NumberFormat> formats = {NumberFormat::f32, NumberFormat::bf16, NumberFormat::int8, NumberFormat::int4};
  if (chosen == NumberFormat::q4_0) formats.push_back(chosen);  // a Q4_0 file's layers, as stored
  for (NumberFormat format : formats) {
    const double bytes = static_cast<double>(rank_weight_bytes(spec, place, format).total());
    out += fmt::format("  {:<5} {:>11} ({:.3g} GB)", format_name(format), human_bytes(bytes), bytes / 1e9);
    if (format != NumberFormat::f32) out += fmt::format("   saves {:>3.0f}% of f32", 100 * (1 - bytes / f32));
    if (format == NumberFormat::int8 || format == NumberFormat::int4 || format == NumberFormat::q4_0)
      out += fmt::format(", {:>3.0f}% of 16-bit", 100 * (1 - bytes / bf16));
    if (format == chosen || (format == NumberFormat::bf16 && chosen == NumberFormat::f16)) out += "   <- chosen";
    out += "\n";
  }
  return out;
}

std::string plan_table(const std::string& model_name, const ModelSpec& spec, const Hardware& hw, const Plan& plan) {
  const Workload& w = plan.workload;
  std::string out;
  out += fmt::format("model:    {} ({:.2f} B parameters; {} layers, {} heads, {} KV heads, head dim {})\n", model_name,
                     parameter_count(spec) / 1e9, spec.layers, spec.heads, spec.kv_heads, spec.head_dim);
  out += fmt::format("hardware: {} x {} ({} each, {:.0f} GB/s{})\n", plan.layout.ranks(), hw.name,
                     human_bytes(static_cast<double>(hw.memory_bytes)), hw.bandwidth_for(plan.threads) / 1e9,
                     hw.cpu ? fmt::format(", {} thread(s) a rank", plan.threads) : "");
  out += fmt::format("layout:   {}\n", layout_name(plan.layout));
  out += fmt::format("workload: context {}, concurrency {}, prompt {} + output {} tokens\n", plan.context,
                     w.concurrency, w.prompt_tokens, w.output_tokens);
  out += fmt::format("verdict:  {}\n\n", plan.fits ? "fits" : "does not fit: " + plan.why_not);
  out += weight_choices_table(spec, plan.layout.tp, plan.layout.pp, plan.layout.weights) + "\n";

  const bool host = !plan.ranks.empty() && plan.ranks.front().mapped_file_bytes > 0;
  out += fmt::format("{:>4} {:>3} {:>3} {:>6} {:>11} {:>11} {:>11} {:>11} {:>10} {:>10}{} {:>11} {:>11} {:>12} {:>9}\n",
                     "rank", "tp", "pp", "layers", "weights", "KV/token", "KV pool", "activation", "comm", "overhead",
                     host ? fmt::format(" {:>10} {:>10} {:>11}", "mapped", "tokenizer", "load peak") : "", "peak",
                     "free", "KV tokens", "seqs");
  for (const RankMemory& r : plan.ranks) {
    out +=
        fmt::format("{:>4} {:>3} {:>3} {:>6} {:>11} {:>11} {:>11} {:>11} {:>10} {:>10}{} {:>11} {:>11} {:>12} {:>9}\n",
                    r.rank, r.tp_rank, r.pp_rank, r.layers, human_bytes(r.weights.total()),
                    human_bytes(r.kv_bytes_per_token), human_bytes(r.kv_bytes), human_bytes(r.activation_bytes),
                    human_bytes(r.comm_bytes), human_bytes(r.overhead_bytes),
                    host ? fmt::format(" {:>10} {:>10} {:>11}", human_bytes(r.mapped_file_bytes),
                                       human_bytes(r.tokenizer_bytes), human_bytes(r.load_peak_bytes))
                         : "",
                    human_bytes(r.peak_bytes), human_bytes(r.free_bytes), r.kv_tokens_fit, r.sequences_fit);
  }
  const Speed& s = plan.speed;
  out += fmt::format("\nspeed (roofline, {}):\n", s.memory_bound ? "decode memory-bound" : "decode compute-bound");
  out += fmt::format("  prefill of one prompt   {}   (time to first token)\n", seconds(s.prefill_s));
  out += fmt::format(
      "  decode step             {}   (inter-token latency; tp all-reduce {}, pp transfers {}, "
      "pp bubble {:.0f}%)\n",
      seconds(s.itl_s), seconds(s.tp_comm_s), seconds(s.pp_transfer_s), s.bubble * 100);
  out += fmt::format("  decode                  {:.1f} tokens/s at concurrency {}\n", s.decode_tokens_per_s,
                     w.concurrency);
  out += fmt::format("  throughput              {:.1f} generated tokens/s with prefill\n", s.throughput);
  return out;
}

std::string layouts_table(const std::vector<Plan>& plans, int shown) {
  std::string out =
      fmt::format("{:>3} {:>3} {:>3} {:>7} {:>6} {:>11} {:>11} {:>12} {:>10} {:>10} {:>12}\n", "#", "tp", "pp",
                  "weights", "KV", "peak/rank", "free/rank", "KV tokens", "TTFT", "ITL", "tokens/s");
  int i = 0;
  for (const Plan& p : plans) {
    if (i >= shown) break;
    const RankMemory& r = p.largest();
    out += fmt::format("{:>3} {:>3} {:>3} {:>7} {:>6} {:>11} {:>11} {:>12} {:>10} {:>10} {:>12.1f}\n", ++i, p.layout.tp,
                       p.layout.pp, format_name(p.layout.weights), format_name(p.layout.kv), human_bytes(r.peak_bytes),
                       human_bytes(r.free_bytes), r.kv_tokens_fit, seconds(p.speed.ttft_s), seconds(p.speed.itl_s),
                       p.speed.throughput);
  }
  if (plans.empty()) out += "  (no layout fits)\n";
  return out;
}

nlohmann::json layout_summary_json(const Plan& p) {
  const RankMemory& r = p.largest();
  return {{"tp", p.layout.tp},
          {"pp", p.layout.pp},
          {"weights", std::string(format_name(p.layout.weights))},
          {"kv_dtype", std::string(format_name(p.layout.kv))},
          {"fits", p.fits},
          {"peak_bytes_per_rank", r.peak_bytes},
          {"free_bytes_per_rank", r.free_bytes},
          {"kv_tokens_fit", r.kv_tokens_fit},
          {"ttft_s", p.speed.ttft_s},
          {"itl_s", p.speed.itl_s},
          {"decode_tokens_per_s", p.speed.decode_tokens_per_s},
          {"throughput_tokens_per_s", p.speed.throughput}};
}

nlohmann::json plan_json(const std::string& model_name, const ModelSpec& spec, const Hardware& hw, const Plan& plan) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const RankMemory& r : plan.ranks) {
    ranks.push_back({{"rank", r.rank},
                     {"tp_rank", r.tp_rank},
                     {"pp_rank", r.pp_rank},
                     {"layers", r.layers},
                     {"kv_heads", r.kv_heads},
                     {"weight_bytes", r.weights.total()},
                     {"weight_bytes_embeddings", r.weights.embeddings},
                     {"weight_bytes_layers", r.weights.layers},
                     {"weight_bytes_lm_head", r.weights.lm_head},
                     {"parameters", r.weights.parameters},
                     {"kv_bytes_per_token", r.kv_bytes_per_token},
                     {"kv_blocks", r.kv_blocks},
                     {"kv_bytes", r.kv_bytes},
                     {"activation_bytes", r.activation_bytes},
                     {"comm_bytes", r.comm_bytes},
                     {"overhead_bytes", r.overhead_bytes},
                     {"mapped_file_bytes", r.mapped_file_bytes},
                     {"tokenizer_bytes", r.tokenizer_bytes},
                     {"load_peak_bytes", r.load_peak_bytes},
                     {"run_bytes", r.run_bytes},
                     {"peak_bytes", r.peak_bytes},
                     {"free_bytes", r.free_bytes},
                     {"kv_tokens_fit", r.kv_tokens_fit},
                     {"sequences_fit", r.sequences_fit}});
  }
  const Speed& s = plan.speed;
  return {{"model", model_name},
          {"parameters", parameter_count(spec)},
          {"hardware", hw.name},
          {"tp", plan.layout.tp},
          {"pp", plan.layout.pp},
          {"weights", std::string(format_name(plan.layout.weights))},
          {"kv_dtype", std::string(format_name(plan.layout.kv))},
          {"threads", plan.threads},
          {"context", plan.context},
          {"concurrency", plan.workload.concurrency},
          {"prompt_tokens", plan.workload.prompt_tokens},
          {"output_tokens", plan.workload.output_tokens},
          {"fits", plan.fits},
          {"why_not", plan.why_not},
          {"ranks", ranks},
          {"speed",
           {{"prefill_s", s.prefill_s},
            {"ttft_s", s.ttft_s},
            {"itl_s", s.itl_s},
            {"tp_comm_s", s.tp_comm_s},
            {"pp_transfer_s", s.pp_transfer_s},
            {"pp_bubble", s.bubble},
            {"decode_tokens_per_s", s.decode_tokens_per_s},
            {"throughput_tokens_per_s", s.throughput},
            {"memory_bound", s.memory_bound}}}};
}

}  // namespace shardlm::plan
