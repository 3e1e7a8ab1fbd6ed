// Summary table text, percentiles, RTF and the Markdown/SVG reports.
#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "eval/process_stats.h"
#include "eval/report.h"
#include "eval/summary_table.h"
#include "eval/timing_stats.h"

namespace quasr {
namespace {

TEST(SummaryTable, MatchesHandWrittenText) {
  ErrorCounts c;
  c.sentences = 2;
  c.ref_words = 10;
  c.hyp_words = 10;
  c.correct = 8;
  c.sub = 1;
  c.del = 1;
  c.ins = 1;
  c.sentences_with_error = 1;
  const std::string rule(69, '-');
  const std::string expected =
      "," + rule + ".\n" +
      "|                                fp32                                 |\n" + "|" + rule +
      "|\n" + "| SPKR    | # Snt   # Wrd |   Corr    Sub    Del    Ins    Err  S.Err |\n" +
      "|---------+---------------+-------------------------------------------|\n" +
      "| Sum/Avg |     2      10 |   80.0   10.0   10.0   10.0   30.0   50.0 |\n" + "`" + rule +
      "'\n";
  EXPECT_EQ(summary_table(c, "fp32"), expected);
}

TEST(SummaryTable, EmptyCountsShowNotApplicable) {
  const std::string text = summary_table(ErrorCounts{}, "none");
  EXPECT_NE(text.find("| Sum/Avg |     0       0 |    n/a    n/a    n/a    n/a    n/a    n/a |"),
            std::string::npos)
      << text;
}

TEST(Percentile, LinearInterpolationBetweenClosestRanks) {
  // Sorted 1 2 3 4: h = 3q/100.
  const std::vector<double> v = {4.0, 1.0, 3.0, 2.0};
  EXPECT_DOUBLE_EQ(percentile(v, 50.0), 2.5);
  EXPECT_DOUBLE_EQ(percentile(v, 90.0), 3.7);
  EXPECT_DOUBLE_EQ(percentile(v, 99.0), 3.97);
  EXPECT_DOUBLE_EQ(percentile(v, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(percentile(v, 100.0), 4.0);
  EXPECT_DOUBLE_EQ(percentile({10.0, 0.0, 5.0}, 90.0), 9.0);
  EXPECT_DOUBLE_EQ(percentile({7.0}, 99.0), 7.0);
  EXPECT_TRUE(std::isnan(percentile({}, 50.0)));
  EXPECT_THROW(percentile(v, 101.0), Error);
}

TEST(Percentile, LatencySummary) {
  const LatencyPercentiles p = latency_percentiles({0.1, 0.2, 0.3, 0.4, 0.5});
  EXPECT_DOUBLE_EQ(p.p50, 0.3);
  EXPECT_NEAR(p.p90, 0.46, 1e-15);
  EXPECT_NEAR(p.p99, 0.496, 1e-15);
  EXPECT_NEAR(p.mean, 0.3, 1e-15);
  EXPECT_DOUBLE_EQ(p.max, 0.5);
}

TEST(RealTimeFactor, TutorialDefinition) {
  EXPECT_DOUBLE_EQ(real_time_factor(2.0, 40.0), 0.05);
  EXPECT_DOUBLE_EQ(inverse_rtf(0.05), 20.0);
  EXPECT_TRUE(std::isnan(real_time_factor(1.0, 0.0)));
}

std::vector<ModelResult> two_models() {
  ModelResult fp32;
  fp32.name = "fp32";
  fp32.wer = {.ref_words = 400, .ins = 4, .del = 4, .sub = 32, .sentences = 10};
  fp32.cer = {.ref_words = 2000, .ins = 10, .del = 10, .sub = 20, .sentences = 10};
  fp32.rtf = 0.08;
  fp32.rtfx = 12.5;
  fp32.e2e_rtf = 0.1;
  fp32.latency_s = {0.5, 0.9, 0.99, 0.6, 1.0};
  fp32.load_s = 1.5;
  fp32.file_bytes = 377487360;  // 360 MiB
  fp32.peak_rss_bytes = 1073741824;
  ModelResult int8 = fp32;
  int8.name = "int8";
  int8.wer.sub = 42;  // WER 12.50
  int8.cer.sub = 30;  // CER 2.50
  int8.rtf = 0.02;
  int8.rtfx = 50.0;
  int8.file_bytes = 94371840;  // 90 MiB
  return {fp32, int8};
}

TEST(MarkdownTable, RowsCarryValuesAndDeltas) {
  const std::string table = markdown_table(two_models());
  EXPECT_NE(table.find("| Model | WER % | ΔWER | CER % | ΔCER | RTF | ΔRTF |"), std::string::npos);
  EXPECT_NE(table.find("| fp32 | 10.00 | — | 2.00 | — | 0.0800 | — | 12.5 | 0.1000 | 500.0 | "
                       "900.0 | 990.0 | 1.50 | 360.0 | — | 1024.0 |"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| int8 | 12.50 | +2.50 | 2.50 | +0.50 | 0.0200 | -75.0% | 50.0 |"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("| 90.0 | -75.0% |"), std::string::npos) << table;
}

TEST(MarkdownReport, ListsSkippedUtterances) {
  RunResult run;
  run.models = two_models();
  run.skipped.push_back({"u7", "list.tsv:8", "empty transcript"});
  const std::string report = markdown_report(run);
  EXPECT_NE(report.find("## Skipped (1)"), std::string::npos);
  EXPECT_NE(report.find("- `list.tsv:8` u7: empty transcript"), std::string::npos);
  EXPECT_NE(report.find("Sum/Avg |    10     400 |"), std::string::npos) << report;
}

TEST(SvgChart, OneLabelledPointPerModel) {
  const std::string svg = wer_rtf_svg(two_models(), "WER vs RTF");
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("fp32 (RTF 0.0800, WER 10.00%)"), std::string::npos) << svg;
  EXPECT_NE(svg.find("int8 (RTF 0.0200, WER 12.50%)"), std::string::npos) << svg;
  size_t circles = 0;
  for (size_t at = svg.find("<circle"); at != std::string::npos; at = svg.find("<circle", at + 1)) {
    ++circles;
  }
  EXPECT_EQ(circles, 4u);                          // a point and a legend marker per model
  EXPECT_EQ(svg.find("href"), std::string::npos);  // self-contained
}

TEST(SvgChart, EscapesNames) {
  std::vector<ModelResult> models = two_models();
  models[0].name = "a<b&c";
  const std::string svg = wer_rtf_svg(models, "t");
  EXPECT_NE(svg.find("a&lt;b&amp;c (RTF"), std::string::npos);
}

TEST(PeakRss, ParsesVmHwmInKilobytes) {
  EXPECT_EQ(parse_vm_hwm_bytes("Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t    1234 kB\n"), 1234 * 1024);
  EXPECT_EQ(parse_vm_hwm_bytes("Name:\tx\n"), -1);
  EXPECT_GT(read_peak_rss_bytes(), 0);
}

}  // namespace
}  // namespace quasr
