#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "eval/summary_table.h"

namespace quasr {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr const char* kNone = "n/a";
constexpr const char* kBaseline = "—";

std::string format(const char* spec, double value) {
  if (!std::isfinite(value)) return kNone;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), spec, value);
  return buffer;
}

std::string points_delta(double value, double base) {
  return format("%+.2f", value - base);
}

std::string relative_delta(double value, double base) {
  if (!std::isfinite(value) || !std::isfinite(base) || base == 0.0) return kNone;
  return format("%+.1f%%", 100.0 * (value / base - 1.0));
}

std::string mib(int64_t bytes) {
  return bytes < 0 ? kNone : format("%.1f", bytes / kMiB);
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

// A 1-2-5 step giving about five intervals over [0, max].
double tick_step(double max) {
  const double raw = max / 5.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10.0 * magnitude;
}

std::string tick_label(double value, double step) {
  const int decimals = step >= 1.0 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, value);
  return buffer;
}

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c",
                                   "#ff7f0e", "#9467bd", "#8c564b"};

// Plot area of the WER-vs-RTF chart: both axes start at 0 and end on a tick.
struct PlotFrame {
  static constexpr double kWidth = 720;
  double left = 70, top = 40, width = 620, height = 340;
  double step_x, step_y, top_x, top_y;
  PlotFrame(double max_x, double max_y) {
    const double span_x = max_x > 0 ? max_x * 1.1 : 1.0;
    const double span_y = max_y > 0 ? max_y * 1.1 : 1.0;
    step_x = tick_step(span_x);
    step_y = tick_step(span_y);
    top_x = std::ceil(span_x / step_x) * step_x;
    top_y = std::ceil(span_y / step_y) * step_y;
  }
  double px(double x) const { return left + width * x / top_x; }
  double py(double y) const { return top + height * (1.0 - y / top_y); }
};

void append_axes(std::string& svg, const PlotFrame& f) {
  char buf[512];
  for (double t = 0.0; t <= f.top_x + f.step_x * 1e-6; t += f.step_x) {
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
                  f.px(t), f.top, f.px(t), f.top + f.height, f.px(t), f.top + f.height + 16,
                  tick_label(t, f.step_x).c_str());
    svg += buf;
  }
  for (double t = 0.0; t <= f.top_y + f.step_y * 1e-6; t += f.step_y) {
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                  f.left, f.py(t), f.left + f.width, f.py(t), f.left - 6, f.py(t) + 4,
                  tick_label(t, f.step_y).c_str());
    svg += buf;
  }
  std::snprintf(buf, sizeof(buf),
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"black\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">RTF (encoder time / audio "
                "time, lower is faster)</text>\n"
                "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">WER "
                "%%</text>\n",
                f.left, f.top, f.width, f.height, f.left + f.width / 2, f.top + f.height + 40,
                f.top + f.height / 2);
  svg += buf;
}

}  // namespace

std::string markdown_table(const std::vector<ModelResult>& models) {
  std::string out =
      "| Model | WER % | ΔWER | CER % | ΔCER | RTF | ΔRTF | RTFx | E2E RTF | p50 ms | p90 ms | "
      "p99 ms | Load s | Size MiB | ΔSize | Peak RSS MiB |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (size_t m = 0; m < models.size(); ++m) {
    const ModelResult& r = models[m];
    const ModelResult& base = models.front();
    const bool is_base = m == 0;
    const auto cell = [](const std::string& s) {
      std::string text(" ");
      text += s;
      text += " |";
      return text;
    };
    out += "|";
    out += cell(markdown_escape(r.name));
    out += cell(format("%.2f", r.wer.wer()));
    out += cell(is_base ? kBaseline : points_delta(r.wer.wer(), base.wer.wer()));
    out += cell(format("%.2f", r.cer.wer()));
    out += cell(is_base ? kBaseline : points_delta(r.cer.wer(), base.cer.wer()));
    out += cell(format("%.4f", r.rtf));
    out += cell(is_base ? kBaseline : relative_delta(r.rtf, base.rtf));
    out += cell(format("%.1f", r.rtfx));
    out += cell(format("%.4f", r.e2e_rtf));
    out += cell(format("%.1f", 1000.0 * r.latency_s.p50));
    out += cell(format("%.1f", 1000.0 * r.latency_s.p90));
    out += cell(format("%.1f", 1000.0 * r.latency_s.p99));
    out += cell(format("%.2f", r.load_s));
    out += cell(mib(r.file_bytes));
    out += cell(is_base ? kBaseline
                        : relative_delta(static_cast<double>(r.file_bytes),
                                         static_cast<double>(base.file_bytes)));
    out += cell(mib(r.peak_rss_bytes));
    out += "\n";
  }
  return out;
}

std::string component_table(const std::vector<ModelResult>& models) {
  std::set<std::string> names;
  for (const ModelResult& m : models)
    for (const auto& entry : m.component_s) names.insert(entry.first);
  if (names.empty()) return "";
  std::string out = "| Component (RTF, % of encoder) |";
  std::string rule = "|---|";
  for (const ModelResult& m : models) {
    out += " ";
    out += markdown_escape(m.name);
    out += " |";
    rule += "---:|";
  }
  out += "\n";
  out += rule;
  out += "\n";
  for (const std::string& name : names) {
    out += "| ";
    out += name;
    out += " |";
    for (const ModelResult& m : models) {
      const auto found = m.component_s.find(name);
      const auto encoder = m.component_s.find("encoder");
      if (found == m.component_s.end() || m.audio_s <= 0.0) {
        out += std::string(" ") + kNone + " |";
        continue;
      }
      out += " ";
      out += format("%.4f", found->second / m.audio_s);
      if (encoder != m.component_s.end() && encoder->second > 0.0) {
        out += " (";
        out += format("%.1f", 100.0 * found->second / encoder->second);
        out += " %)";
      }
      out += " |";
    }
    out += "\n";
  }
  return out;
}

std::string markdown_report(const RunResult& run) {
  std::string out = "# quasr bench\n\n";
  char line[512];
  std::snprintf(line, sizeof(line), "- Dataset: `%s` (%s), %lld utterances, %s h of audio\n",
                run.dataset.path.c_str(), run.dataset.format.c_str(),
                static_cast<long long>(run.dataset.utterances),
                format("%.2f", run.dataset.audio_s / 3600.0).c_str());
  out += line;
  std::snprintf(line, sizeof(line), "- Machine: %s, ISA %s, %d threads\n",
                run.machine.cpu_model.c_str(), run.machine.isa.c_str(), run.machine.threads);
  out += line;
  out += "- quasr " + run.quasr_version + " (" + run.quasr_commit + ")";
  if (run.merged_from > 1) out += ", merged from " + std::to_string(run.merged_from) + " shards";
  out += "\n- Options: `" +
         run.options.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "`\n\n";
  out += "Baseline: " + (run.models.empty() ? std::string(kNone) : run.models.front().name) +
         ". ΔWER/ΔCER in percentage points; ΔRTF/ΔSize relative. RTF = encoder time / audio "
         "time; latencies are end-to-end per utterance.\n\n";
  out += markdown_table(run.models);
  const std::string components = component_table(run.models);
  if (!components.empty()) out += "\n## Where the time goes\n\n" + components;
  for (const ModelResult& model : run.models) {
    out += "\n## " + model.name + "\n\n```\n" + summary_table(model.wer, model.name + " (words)") +
           summary_table(model.cer, model.name + " (characters)", "# Chr") + "```\n";
  }
  if (!run.skipped.empty()) {
    out += "\n## Skipped (" + std::to_string(run.skipped.size()) + ")\n\n";
    for (const SkippedItem& s : run.skipped) {
      out += "- `" + s.source + "` " + s.id + ": " + s.reason + "\n";
    }
  }
  return out;
}

std::string wer_rtf_svg(const std::vector<ModelResult>& models, const std::string& title) {
  std::vector<const ModelResult*> shown;
  double max_x = 0.0, max_y = 0.0;
  for (const ModelResult& m : models) {
    if (!std::isfinite(m.rtf) || !std::isfinite(m.wer.wer())) continue;
    shown.push_back(&m);
    max_x = std::max(max_x, m.rtf);
    max_y = std::max(max_y, m.wer.wer());
  }
  const PlotFrame frame(max_x, max_y);
  // The legend under the x-axis label carries the full "name (RTF, WER)" text,
  // so labels beside close points may overlap without hiding numbers.
  const double height = frame.top + frame.height + 70 + 18.0 * static_cast<double>(shown.size());
  std::string svg;
  char buf[512];
  std::snprintf(buf, sizeof(buf),
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">",
                PlotFrame::kWidth, height, PlotFrame::kWidth, height, PlotFrame::kWidth / 2);
  svg += buf;
  svg += xml_escape(title);
  svg += "</text>\n";
  append_axes(svg, frame);
  for (size_t k = 0; k < shown.size(); ++k) {
    const ModelResult& m = *shown[k];
    const char* color = kColors[k % (sizeof(kColors) / sizeof(kColors[0]))];
    const double x = frame.px(m.rtf), y = frame.py(m.wer.wer());
    // Points near the right edge get their name on the left so it stays inside.
    const bool flip = x > frame.left + 0.75 * frame.width;
    std::snprintf(buf, sizeof(buf),
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" text-anchor=\"%s\">",
                  x, y, color, flip ? x - 8 : x + 8, y - 8 + 20.0 * static_cast<double>(k % 2),
                  color, flip ? "end" : "start");
    svg += buf;
    svg += xml_escape(m.name);
    const double legend_y = frame.top + frame.height + 66 + 18.0 * static_cast<double>(k);
    std::snprintf(buf, sizeof(buf),
                  "</text>\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\">",
                  frame.left + 6, legend_y - 4, color, frame.left + 16, legend_y);
    svg += buf;
    svg += xml_escape(m.name + " (RTF " + format("%.4f", m.rtf) + ", WER " +
                      format("%.2f", m.wer.wer()) + "%)");
    svg += "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace quasr
