// Output files and console summary shared by quasr bench and quasr merge.
#pragma once

#include <string>

#include "eval/run_result.h"

namespace quasr::cli {

struct OutputPaths {
  std::string json;    // run result (bench/schema/bench-result.schema.json)
  std::string report;  // Markdown report
  std::string plot;    // WER-vs-RTF SVG
};

// Writes each non-empty path atomically (temp + rename), creating missing
// parent folders. All contents are rendered before the first write, so a
// rendering error leaves no file behind.
void write_outputs(const RunResult& run, const OutputPaths& paths);

// The side-by-side Markdown table (models[0] = baseline) followed by a blank line.
std::string markdown_table_text(const RunResult& run);

// The one line always printed on stderr at the end: utterances, models,
// each model's WER and RTF, skipped count and wall time.
void print_final_line(const RunResult& run, double wall_s);

}  // namespace quasr::cli
