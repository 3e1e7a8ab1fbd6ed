// Helpers for the quasr bench/merge end-to-end tests: build small datasets
// from the parity fixtures in a temporary folder, read the results back.
// Running the binary and temp folders: cli_test_util.h.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli_test_util.h"

namespace quasr::clitest {

// One parity utterance of a fixture variant: its wav and the transcript the
// PyTorch reference produced for the variant's model (cases.json).
struct FixtureUtterance {
  std::string id;    // "utt0"
  std::string wav;   // absolute path
  std::string text;  // expected transcript
};
std::vector<FixtureUtterance> fixture_utterances(const std::string& variant);
std::string fixture_model(const std::string& variant);

// A dataset row to write: audio file name inside the dataset folder (copied
// there from `source_wav` unless source_wav is empty) and reference text.
struct Row {
  std::string id;
  std::string source_wav;
  std::string text;
};

// Each writer copies the audio into `dir` and returns the --data path.
// JSONL: manifest.jsonl with relative audio_filepath (<id>.wav) and "id".
std::string write_jsonl_dataset(const std::string& dir, const std::vector<Row>& rows);
// TSV: data.tsv with a "path<TAB>transcript" header; ids = file stem = Row::id.
std::string write_tsv_dataset(const std::string& dir, const std::vector<Row>& rows);
// SpeechBrain CSV: data.csv with ID,duration,wav,wrd and "$data_root/<id>.wav".
std::string write_csv_dataset(const std::string& dir, const std::vector<Row>& rows);
// LibriSpeech tree: <dir>/LS/19/198/19-198.trans.txt, audio converted to
// 24-bit FLAC; ids are renamed 19-198-0000, 19-198-0001, ... in row order.
std::string write_librispeech_dataset(const std::string& dir, const std::vector<Row>& rows);

// Rows using each fixture utterance once with its expected transcript.
std::vector<Row> exact_rows(const std::string& variant);

nlohmann::json read_json(const std::string& path);
std::vector<std::string> read_lines(const std::string& path);
// Number of whitespace-separated words.
int count_words(const std::string& text);
// Violations of bench/schema/bench-result.schema.json, one per line ("" when valid).
std::string schema_violations(const nlohmann::json& document);

}  // namespace quasr::clitest
