// --attention / --fp32-matmul, shared by transcribe and bench so both
// describe and accept the same choices (parsed by model::parse_*_choice).
#pragma once

#include <string>

#include <CLI/CLI.hpp>

namespace quasr::cli {

void add_precision_options(CLI::App* command, std::string* attention, std::string* fp32_matmul);

}  // namespace quasr::cli
