#include "bench_outputs.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "eval/report.h"
#include "eval/result_files.h"

namespace quasr::cli {

namespace fs = std::filesystem;

namespace {

void make_parent(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);  // a failure shows in the write
}

std::string plot_title(const RunResult& run) {
  std::string data = fs::path(run.dataset.path).filename().string();
  if (data.empty()) data = run.dataset.path;
  return "WER vs RTF on " + data + " (" + std::to_string(run.dataset.utterances) + " utterances)";
}

std::string percent(double value) {
  if (!std::isfinite(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.2f%%", value);
  return text;
}

}  // namespace

void write_outputs(const RunResult& run, const OutputPaths& paths) {
  const std::string report = paths.report.empty() ? "" : markdown_report(run);
  const std::string plot = paths.plot.empty() ? "" : wer_rtf_svg(run.models, plot_title(run));
  if (!paths.json.empty()) {
    make_parent(paths.json);
    write_run_file(paths.json, run);
  }
  if (!paths.report.empty()) {
    make_parent(paths.report);
    write_file_atomic(paths.report, report);
  }
  if (!paths.plot.empty()) {
    make_parent(paths.plot);
    write_file_atomic(paths.plot, plot);
  }
}

std::string markdown_table_text(const RunResult& run) {
  return markdown_table(run.models) + "\n";
}

void print_final_line(const RunResult& run, double wall_s) {
  std::string line = "quasr: " + std::to_string(run.dataset.utterances) + " utterances x " +
                     std::to_string(run.models.size()) + " models";
  for (const ModelResult& m : run.models) {
    char rtf[32];
    std::snprintf(rtf, sizeof rtf, "%.4f", m.rtf);
    line += "; " + m.name + " WER " + percent(m.wer.wer()) + " CER " + percent(m.cer.wer()) +
            " RTF " + (std::isfinite(m.rtf) ? rtf : "n/a");
  }
  if (!run.skipped.empty()) line += "; " + std::to_string(run.skipped.size()) + " skipped";
  char wall[32];
  std::snprintf(wall, sizeof wall, "%.1f", wall_s);
  line += "; " + std::string(wall) + " s\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace quasr::cli
