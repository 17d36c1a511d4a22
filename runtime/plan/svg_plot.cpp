#include "runtime/plan/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace shardlm::plan {
namespace {

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Part {
  const char* name;
  const char* color;
};
constexpr Part kParts[] = {{"weights", "#4e79a7"},     {"KV cache", "#f28e2b"},
                           {"activations", "#59a14f"}, {"communication", "#e15759"},
                           {"overhead", "#76b7b2"},    {"mapped file + tokenizer", "#b07aa1"},
                           {"free", "#eeeeee"}};

}  // namespace

std::string plan_svg(const std::string& title, const Plan& plan, int64_t memory_bytes,
                     const std::vector<std::pair<int64_t, double>>& curve) {
  const double width = 900, height = 420, left = 70, top = 50, chart_h = 300, bar_area = 400;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{}\" y=\"22\" font-size=\"15\">{}</text>\n",
      width, height, left, escape(title));

  // Left: memory per rank, stacked, against the device's memory.
  const double gib = 1024.0 * 1024 * 1024;
  double scale = static_cast<double>(memory_bytes);
  for (const RankMemory& r : plan.ranks) scale = std::max(scale, static_cast<double>(r.peak_bytes));
  svg += fmt::format("<text x=\"{}\" y=\"{}\">memory per rank (GiB)</text>\n", left, top - 8);
  for (int tick = 0; tick <= 4; ++tick) {
    const double y = top + chart_h - chart_h * tick / 4.0;
    svg += fmt::format(
        "<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#ccc\"/>"
        "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.1f}</text>\n",
        left, y, left + bar_area - 20, y, left - 6, y + 4, scale * tick / 4.0 / gib);
  }
  const size_t n = plan.ranks.size();
  const double slot = (bar_area - 20) / std::max<size_t>(n, 1), bar = std::max(2.0, slot * 0.7);
  for (size_t i = 0; i < n; ++i) {
    const RankMemory& r = plan.ranks[i];
    const double host = static_cast<double>(r.mapped_file_bytes + r.tokenizer_bytes);
    const double used = r.peak_bytes;
    // The peak split by part; at a load-time peak the loader's transient copies count as weights.
    const double rest = r.kv_bytes + r.activation_bytes + r.comm_bytes + r.overhead_bytes + host;
    const double values[] = {std::max(0.0, used - rest),
                             static_cast<double>(r.kv_bytes),
                             static_cast<double>(r.activation_bytes),
                             static_cast<double>(r.comm_bytes),
                             static_cast<double>(r.overhead_bytes),
                             host,
                             std::max(0.0, static_cast<double>(memory_bytes) - used)};
    double y = top + chart_h;
    const double x = left + i * slot + (slot - bar) / 2;
    for (size_t p = 0; p < std::size(kParts); ++p) {
      const double h = chart_h * values[p] / scale;
      if (h <= 0) continue;
      y -= h;
      svg += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.2f}\" fill=\"{}\">"
          "<title>rank {}: {} {:.3f} GiB</title></rect>\n",
          x, y, bar, h, kParts[p].color, r.rank, kParts[p].name, values[p] / gib);
    }
    if (n <= 16)
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x + bar / 2,
                         top + chart_h + 14, r.rank);
  }
  for (size_t p = 0; p < std::size(kParts); ++p)
    svg += fmt::format(
        "<rect x=\"{}\" y=\"{}\" width=\"10\" height=\"10\" fill=\"{}\" stroke=\"#999\"/>"
        "<text x=\"{}\" y=\"{}\">{}</text>\n",
        left + (p % 4) * 95, top + chart_h + 28 + (p / 4) * 16, kParts[p].color, left + (p % 4) * 95 + 14,
        top + chart_h + 37 + (p / 4) * 16, kParts[p].name);

  // Right: throughput against concurrency.
  const double cx = left + bar_area + 40, cw = width - cx - 30;
  svg += fmt::format("<text x=\"{}\" y=\"{}\">generated tokens/s vs concurrency</text>\n", cx, top - 8);
  double top_rate = 1;
  int64_t top_c = 1;
  for (const auto& [c, rate] : curve) top_rate = std::max(top_rate, rate), top_c = std::max(top_c, c);
  const double log_c = std::log2(static_cast<double>(std::max<int64_t>(top_c, 2)));
  auto px = [&](int64_t c) { return cx + cw * std::log2(static_cast<double>(c)) / log_c; };
  auto py = [&](double rate) { return top + chart_h - chart_h * rate / (top_rate * 1.05); };
  svg += fmt::format(
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>"
      "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#333\"/>\n",
      cx, top + chart_h, cx + cw, top + chart_h, cx, top, cx, top + chart_h);
  std::string points;
  for (const auto& [c, rate] : curve) {
    points += fmt::format("{:.1f},{:.1f} ", px(c), py(rate));
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#4e79a7\"><title>{} sequences: {:.1f} "
        "tokens/s</title></circle>\n<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
        px(c), py(rate), c, rate, px(c), top + chart_h + 14, c);
  }
  svg += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#4e79a7\" stroke-width=\"2\"/>\n", points);
  svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:.0f}</text>\n", cx - 4, py(top_rate) + 4,
                     top_rate);
  svg += "</svg>\n";
  return svg;
}

}  // namespace shardlm::plan
