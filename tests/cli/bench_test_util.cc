#include "bench_test_util.h"

#include <sndfile.h>

#include <cstdio>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "eval/schema_check.h"

namespace quasr::clitest {

namespace fs = std::filesystem;

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(read_file(path));
}

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

int count_words(const std::string& text) {
  std::istringstream in(text);
  int count = 0;
  for (std::string word; in >> word;) ++count;
  return count;
}

std::string fixture_model(const std::string& variant) {
  return fixture("models/" + variant);
}

std::vector<FixtureUtterance> fixture_utterances(const std::string& variant) {
  const nlohmann::json cases = read_json(fixture("parity/" + variant + "/cases.json"));
  std::vector<FixtureUtterance> items;
  for (const nlohmann::json& u : cases.at("utterances")) {
    items.push_back({u.at("id"), fixture(u.at("wav").get<std::string>()), u.at("text")});
  }
  return items;
}

std::vector<Row> exact_rows(const std::string& variant) {
  std::vector<Row> rows;
  for (const FixtureUtterance& u : fixture_utterances(variant))
    rows.push_back({u.id, u.wav, u.text});
  return rows;
}

namespace {

void copy_audio(const Row& row, const std::string& target) {
  if (!row.source_wav.empty()) {
    fs::copy_file(row.source_wav, target, fs::copy_options::overwrite_existing);
  }
}

// Lossless for the float fixtures at 24 bits to well below the models'
// top-1 margins; the test checks the transcripts anyway.
void wav_to_flac(const std::string& wav, const std::string& flac) {
  SF_INFO in_info{};
  SNDFILE* in = sf_open(wav.c_str(), SFM_READ, &in_info);
  if (!in) throw std::runtime_error("cannot open " + wav);
  std::vector<double> samples(static_cast<size_t>(in_info.frames * in_info.channels));
  sf_readf_double(in, samples.data(), in_info.frames);
  sf_close(in);
  SF_INFO out_info{};
  out_info.samplerate = in_info.samplerate;
  out_info.channels = in_info.channels;
  out_info.format = SF_FORMAT_FLAC | SF_FORMAT_PCM_24;
  SNDFILE* out = sf_open(flac.c_str(), SFM_WRITE, &out_info);
  if (!out) throw std::runtime_error("cannot write " + flac);
  sf_writef_double(out, samples.data(), in_info.frames);
  sf_close(out);
}

}  // namespace

std::string write_jsonl_dataset(const std::string& dir, const std::vector<Row>& rows) {
  std::string text;
  for (const Row& row : rows) {
    copy_audio(row, dir + "/" + row.id + ".wav");
    text += nlohmann::json{{"audio_filepath", row.id + ".wav"}, {"text", row.text}, {"id", row.id}}
                .dump() +
            "\n";
  }
  write_file(dir + "/manifest.jsonl", text);
  return dir + "/manifest.jsonl";
}

std::string write_tsv_dataset(const std::string& dir, const std::vector<Row>& rows) {
  std::string text = "path\ttranscript\n";
  for (const Row& row : rows) {
    copy_audio(row, dir + "/" + row.id + ".wav");
    text += row.id + ".wav\t" + row.text + "\n";
  }
  write_file(dir + "/data.tsv", text);
  return dir + "/data.tsv";
}

std::string write_csv_dataset(const std::string& dir, const std::vector<Row>& rows) {
  std::string text = "ID,duration,wav,wrd\r\n";
  for (const Row& row : rows) {
    copy_audio(row, dir + "/" + row.id + ".wav");
    text += row.id + ",1.0,$data_root/" + row.id + ".wav," + row.text + "\r\n";
  }
  write_file(dir + "/data.csv", text);
  return dir + "/data.csv";
}

std::string write_librispeech_dataset(const std::string& dir, const std::vector<Row>& rows) {
  const std::string chapter = dir + "/LS/19/198";
  fs::create_directories(chapter);
  std::string text;
  for (size_t k = 0; k < rows.size(); ++k) {
    char id[32];
    std::snprintf(id, sizeof id, "19-198-%04zu", k);
    wav_to_flac(rows[k].source_wav, chapter + "/" + id + ".flac");
    text += std::string(id) + " " + rows[k].text + "\n";
  }
  write_file(chapter + "/19-198.trans.txt", text);
  return dir + "/LS";
}

std::string schema_violations(const nlohmann::json& document) {
  const nlohmann::json schema = read_json(QUASR_SCHEMA_FILE);
  std::string text;
  for (const std::string& line : check_json_schema(schema, document)) text += line + "\n";
  return text;
}

}  // namespace quasr::clitest
