// sclite-style summary ("SYSTEM SUMMARY PERCENTAGES") of one model's counts.
#pragma once

#include <string>

#include "eval/edit_distance.h"

namespace quasr {

// A boxed text table with one "Sum/Avg" row:
//   | SPKR    | # Snt   # Wrd |  Corr    Sub    Del    Ins    Err  S.Err |
// Corr/Sub/Del/Ins/Err are percentages of the reference tokens (Err = WER),
// S.Err the percentage of sentences with at least one error, all with one
// decimal; "n/a" where the denominator is zero. Every line ends with '\n'.
// count_label heads the token column ("# Wrd"; "# Chr" for character counts),
// 5 characters wide.
std::string summary_table(const ErrorCounts& counts, const std::string& title,
                          const std::string& count_label = "# Wrd");

}  // namespace quasr
