// load_audio / probe_audio on files written here with libsndfile: a 440 Hz
// sine in many containers, bit depths and rates is compared with the analytic
// sine at 16 kHz, and broken files must raise one-line errors.
#include "audio/audio.h"

#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.h"

namespace quasr {
namespace {

namespace fs = std::filesystem;

constexpr double kFreq = 440.0;
constexpr double kAmp = 0.5;
constexpr double kSeconds = 0.75;
// Lossless inputs, away from the edges: int16 quantisation (1.5e-5) plus the
// SOXR_HQ resampler's error (measured 3e-5 worst for int16, 5e-7 for float).
constexpr double kInt16Tol = 1e-4;
constexpr double kHighResTol = 5e-6;  // int24/int32/float/double
// Vorbis is lossy; a pure tone at default quality measured 1.5e-2 worst.
constexpr double kVorbisTol = 3e-2;
// Resampler start/end transients are skipped when comparing values.
constexpr int kEdgeSamples = 320;  // 20 ms at 16 kHz

class AudioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::temp_directory_path() /
        ("quasr_audio_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Writes `frames` frames where channel c of frame i is gain[c] * sine(i / rate).
  std::string write_sine(const std::string& name, int format, int rate,
                         const std::vector<double>& gains, double seconds = kSeconds) {
    const int channels = static_cast<int>(gains.size());
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    if (!sf_format_check(&info)) ADD_FAILURE() << "libsndfile rejects format for " << name;
    const std::string p = path(name);
    SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
    EXPECT_NE(f, nullptr) << sf_strerror(nullptr);
    if (f == nullptr) return p;
    const int64_t frames = static_cast<int64_t>(std::llround(seconds * rate));
    std::vector<double> data(frames * channels);
    for (int64_t i = 0; i < frames; ++i) {
      const double s = kAmp * std::sin(2.0 * std::numbers::pi * kFreq * i / rate);
      for (int c = 0; c < channels; ++c) data[i * channels + c] = gains[c] * s;
    }
    EXPECT_EQ(sf_writef_double(f, data.data(), frames), frames);
    sf_close(f);
    return p;
  }

  fs::path dir_;
};

int64_t expected_length(int64_t frames, int rate) {
  return (frames * 16000 + rate - 1) / rate;  // ceil, as torchaudio's resample
}

double max_error_vs_sine(const std::vector<float>& y, double gain) {
  double worst = 0.0;
  for (size_t n = kEdgeSamples; n + kEdgeSamples < y.size(); ++n) {
    const double ref = gain * kAmp * std::sin(2.0 * std::numbers::pi * kFreq * n / 16000.0);
    worst = std::max(worst, std::abs(y[n] - ref));
  }
  return worst;
}

struct Case {
  const char* name;
  int format;
  int rate;
  double tol;
};

TEST_F(AudioTest, SineMatchesAnalyticAcrossFormatsAndRates) {
  const int wav = SF_FORMAT_WAV;
  const int flac = SF_FORMAT_FLAC;
  std::vector<Case> cases;
  for (int rate : {8000, 16000, 22050, 44100, 48000}) {
    cases.push_back({"pcm16.wav", wav | SF_FORMAT_PCM_16, rate, kInt16Tol});
    cases.push_back({"pcm24.wav", wav | SF_FORMAT_PCM_24, rate, kHighResTol});
    cases.push_back({"pcm32.wav", wav | SF_FORMAT_PCM_32, rate, kHighResTol});
    cases.push_back({"float.wav", wav | SF_FORMAT_FLOAT, rate, kHighResTol});
    cases.push_back({"double.wav", wav | SF_FORMAT_DOUBLE, rate, kHighResTol});
  }
  for (int rate : {16000, 44100}) {
    cases.push_back({"pcm16.flac", flac | SF_FORMAT_PCM_16, rate, kInt16Tol});
    cases.push_back({"pcm24.flac", flac | SF_FORMAT_PCM_24, rate, kHighResTol});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.name) + " @ " + std::to_string(c.rate));
    const std::string p = write_sine(std::to_string(c.rate) + c.name, c.format, c.rate, {1.0});
    const std::vector<float> y = load_audio(p);
    const int64_t frames = std::llround(kSeconds * c.rate);
    EXPECT_EQ(static_cast<int64_t>(y.size()), expected_length(frames, c.rate));
    EXPECT_LT(max_error_vs_sine(y, 1.0), c.tol);
  }
}

TEST_F(AudioTest, SixteenKhzInt16IsExactScaling) {
  // No resampling: each sample must be exactly int16 / 32768.
  const std::string p = write_sine("exact.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, {1.0});
  const std::vector<float> y = load_audio(p);
  ASSERT_EQ(y.size(), 12000u);
  for (size_t n = 0; n < y.size(); n += 97) {
    const double s = kAmp * std::sin(2.0 * std::numbers::pi * kFreq * n / 16000.0);
    // libsndfile writes doubles to int16 by rounding s * 32767.
    const double q = std::lrint(s * 32767.0) / 32768.0;
    EXPECT_FLOAT_EQ(y[n], static_cast<float>(q)) << "sample " << n;
  }
}

TEST_F(AudioTest, OggVorbis) {
  SF_INFO check{};
  check.samplerate = 44100;
  check.channels = 1;
  check.format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
  if (!sf_format_check(&check)) GTEST_SKIP() << "libsndfile built without Ogg Vorbis";
  const std::string p = write_sine("tone.ogg", check.format, 44100, {1.0});
  const std::vector<float> y = load_audio(p);
  const AudioInfo info = probe_audio(p);
  EXPECT_EQ(static_cast<int64_t>(y.size()), expected_length(info.frames, 44100));
  EXPECT_NEAR(static_cast<double>(y.size()), kSeconds * 16000, 2.0);
  EXPECT_LT(max_error_vs_sine(y, 1.0), kVorbisTol);
}

TEST_F(AudioTest, StereoAndMultichannelAreAveraged) {
  const int fmt = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
  // (0.9 + 0.3) / 2 = 0.6
  std::vector<float> y = load_audio(write_sine("st16.wav", fmt, 16000, {0.9, 0.3}));
  EXPECT_LT(max_error_vs_sine(y, 0.6), 1e-6);
  // Resampled stereo: (1.0 + 0.2) / 2 = 0.6
  y = load_audio(write_sine("st48.wav", fmt, 48000, {1.0, 0.2}));
  EXPECT_EQ(static_cast<int64_t>(y.size()), expected_length(36000, 48000));
  EXPECT_LT(max_error_vs_sine(y, 0.6), kHighResTol);
  // Three channels: (1.0 + 0.5 - 0.6) / 3 = 0.3
  y = load_audio(write_sine("three.wav", fmt, 16000, {1.0, 0.5, -0.6}));
  EXPECT_LT(max_error_vs_sine(y, 0.3), 1e-6);
  // Opposite channels cancel exactly.
  y = load_audio(write_sine("cancel.wav", fmt, 22050, {1.0, -1.0}));
  for (float v : y) ASSERT_EQ(v, 0.0f);
}

TEST_F(AudioTest, FloatFilesAreNotRescaled) {
  // Gain 3 * amplitude 0.5 = peak 1.5: float data beyond [-1, 1] stays as is.
  const auto y = load_audio(write_sine("loud.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, {3.0}));
  EXPECT_LT(max_error_vs_sine(y, 3.0), 1e-6);
}

TEST_F(AudioTest, CustomTargetRate) {
  const std::string p = write_sine("t.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, {1.0});
  EXPECT_EQ(load_audio(p, 8000).size(), 6000u);
  EXPECT_THROW(load_audio(p, 0), Error);
}

TEST_F(AudioTest, ProbeReadsHeader) {
  const std::string p = write_sine("probe.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 22050,
                                   {1.0, 1.0}, /*seconds=*/0.5);
  const AudioInfo info = probe_audio(p);
  EXPECT_EQ(info.sample_rate, 22050);
  EXPECT_EQ(info.channels, 2);
  EXPECT_EQ(info.frames, 11025);
  EXPECT_DOUBLE_EQ(info.duration_s, 0.5);
  EXPECT_NE(info.format.find("FLAC"), std::string::npos) << info.format;
  EXPECT_NE(info.format.find("24"), std::string::npos) << info.format;
}

// Expects `fn` to throw quasr::Error whose one-line message names `file` and
// contains `fragment`.
template <typename Fn>
void expect_error(Fn fn, const std::string& file, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "no error for " << file;
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST_F(AudioTest, MissingFile) {
  const std::string p = path("nope.wav");
  expect_error([&] { load_audio(p); }, p, "no such file");
  expect_error([&] { probe_audio(p); }, p, "no such file");
}

TEST_F(AudioTest, TextFileNamedWav) {
  const std::string p = path("notes.wav");
  std::ofstream(p) << "this is not audio, just some text\n";
  expect_error([&] { load_audio(p); }, p, "libsndfile");
}

TEST_F(AudioTest, EmptyWav) {
  const std::string p = write_sine("empty.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, {1.0},
                                   /*seconds=*/0.0);
  expect_error([&] { load_audio(p); }, p, "audio is empty (0 samples)");
  EXPECT_EQ(probe_audio(p).frames, 0);
}

TEST_F(AudioTest, TruncatedFlac) {
  const std::string p = write_sine("cut.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, {1.0},
                                   /*seconds=*/2.0);
  fs::resize_file(p, fs::file_size(p) / 2);
  expect_error([&] { load_audio(p); }, p, "of 32000 frames");
}

TEST_F(AudioTest, CorruptFlac) {
  const std::string p = write_sine("bad.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, {1.0},
                                   /*seconds=*/2.0);
  const auto size = fs::file_size(p);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    const std::string junk(4096, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  expect_error([&] { load_audio(p); }, p, "frames");
}

}  // namespace
}  // namespace quasr
