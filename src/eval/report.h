// Human-readable reports of a bench run: Markdown and an SVG chart.
#pragma once

#include <string>
#include <vector>

#include "eval/run_result.h"

namespace quasr {

// Markdown table, one row per model, models[0] the baseline. Columns:
// Model | WER % | ΔWER | CER % | ΔCER | RTF | ΔRTF | RTFx | E2E RTF | p50 ms | p90 ms | p99 ms |
// Load s | Size MiB | ΔSize | Peak RSS MiB
// ΔWER/ΔCER are absolute percentage points ("+0.12"); ΔRTF and ΔSize are
// relative changes in percent ("-45.3%"); the baseline row shows "—".
// Latencies are per-utterance end-to-end. "n/a" for undefined values.
// Number formats: WER/CER %.2f, RTF %.4f, RTFx %.1f, ms %.1f, s %.2f, MiB %.1f.
std::string markdown_table(const std::vector<ModelResult>& models);

// Whole report: title, dataset/machine/options lines, markdown_table, an
// sclite summary (summary_table) per model for words and characters, and the
// list of skipped utterances when there are any.
// Per-component time (component_s) as RTF and share of the encoder, one
// column per model; empty when no model has components.
std::string component_table(const std::vector<ModelResult>& models);

std::string markdown_report(const RunResult& run);

// Self-contained SVG (no scripts, fonts or external references) plotting WER %
// (y) against RTF (x): one point per model labelled with its name, and a legend
// under the plot with one line per model: "name (RTF 0.0512, WER 3.21%)".
// Axes start at 0 with 1-2-5 ticks; models whose WER or RTF is NaN are left out.
std::string wer_rtf_svg(const std::vector<ModelResult>& models, const std::string& title);

}  // namespace quasr
