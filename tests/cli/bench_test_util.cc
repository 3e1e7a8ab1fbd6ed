#include "bench_test_util.h"

#include <fcntl.h>
#include <sndfile.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "eval/schema_check.h"

extern char** environ;

namespace quasr::clitest {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

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

CommandResult run_quasr(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env) {
  TempDir capture;
  const std::string out_path = capture / "stdout", err_path = capture / "stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<std::string> argv_text = {QUASR_BIN};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  for (const auto& [key, value] : env) env_text.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, QUASR_BIN, &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("cannot start ") + QUASR_BIN);
  int wait_status = 0;
  waitpid(pid, &wait_status, 0);
  CommandResult result;
  result.status = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 128 + WTERMSIG(wait_status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "quasr-cli-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string fixture_model(const std::string& variant) {
  return std::string(QUASR_FIXTURE_DIR) + "/models/" + variant;
}

std::vector<FixtureUtterance> fixture_utterances(const std::string& variant) {
  const std::string root = QUASR_FIXTURE_DIR;
  const nlohmann::json cases = read_json(root + "/parity/" + variant + "/cases.json");
  std::vector<FixtureUtterance> items;
  for (const nlohmann::json& u : cases.at("utterances")) {
    items.push_back({u.at("id"), root + "/" + u.at("wav").get<std::string>(), u.at("text")});
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

void write_empty_wav(const std::string& path) {
  SF_INFO info{};
  info.samplerate = 16000;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SNDFILE* out = sf_open(path.c_str(), SFM_WRITE, &info);
  if (!out) throw std::runtime_error("cannot write " + path);
  sf_close(out);
}

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
