#include "audio/audio.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <system_error>

#include "core/error.h"

namespace quasr {
namespace {

constexpr sf_count_t kBlockFrames = 16384;
// Upper bound on the up-front reservation, so a corrupt header that claims
// billions of frames cannot trigger a huge allocation before decoding fails.
constexpr int64_t kMaxReserveSamples = int64_t{1} << 26;

struct SndFileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndFilePtr = std::unique_ptr<SNDFILE, SndFileCloser>;

struct SoxrDeleter {
  void operator()(soxr_t s) const { soxr_delete(s); }
};
using SoxrPtr = std::unique_ptr<std::remove_pointer_t<soxr_t>, SoxrDeleter>;

SndFilePtr open_sound(const std::string& path, SF_INFO* info) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) throw Error(path + ": no such file");
  if (std::filesystem::is_directory(status)) {
    throw Error(path + ": is a directory, expected an audio file");
  }
  *info = SF_INFO{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, info);
  if (file == nullptr) {
    throw Error(path + ": cannot open as audio (libsndfile: " + sf_strerror(nullptr) + ")");
  }
  return SndFilePtr(file);
}

std::string format_name(int format) {
  auto name_of = [](int code) -> std::string {
    SF_FORMAT_INFO fi{};
    fi.format = code;
    if (sf_command(nullptr, SFC_GET_FORMAT_INFO, &fi, sizeof(fi)) != 0 || fi.name == nullptr) {
      return "unknown";
    }
    return fi.name;
  };
  return name_of(format & SF_FORMAT_TYPEMASK) + ", " + name_of(format & SF_FORMAT_SUBMASK);
}

// Streams mono blocks through libsoxr and appends the output to `out`.
class Resampler {
 public:
  Resampler(const std::string& path, int in_rate, int out_rate) : path_(path) {
    soxr_error_t err = nullptr;
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    soxr_.reset(soxr_create(in_rate, out_rate, 1, &err, &io, &quality, nullptr));
    if (err != nullptr || !soxr_) {
      throw Error(path + ": cannot resample " + std::to_string(in_rate) + " Hz -> " +
                  std::to_string(out_rate) + " Hz (soxr: " + (err ? err : "unknown") + ")");
    }
    ratio_ = static_cast<double>(out_rate) / in_rate;
  }

  // input == nullptr flushes the filter tail.
  void process(const float* input, size_t count, std::vector<float>& out) {
    size_t consumed = 0;
    for (;;) {
      const size_t room = static_cast<size_t>((count - consumed) * ratio_) + 256;
      const size_t base = out.size();
      out.resize(base + room);
      size_t in_done = 0;
      size_t out_done = 0;
      const float* in = input ? input + consumed : nullptr;
      soxr_error_t err = soxr_process(soxr_.get(), in, input ? count - consumed : 0, &in_done,
                                      out.data() + base, room, &out_done);
      out.resize(base + out_done);
      if (err != nullptr) throw Error(path_ + ": resampling failed (soxr: " + err + ")");
      consumed += in_done;
      // Input mode: done once every sample is consumed. Flush mode: done once
      // soxr returns less than the room it was given.
      if (input ? consumed >= count : out_done < room) break;
    }
  }

 private:
  std::string path_;
  SoxrPtr soxr_;
  double ratio_ = 1.0;
};

}  // namespace

AudioInfo probe_audio(const std::string& path) {
  SF_INFO info;
  SndFilePtr file = open_sound(path, &info);
  AudioInfo out;
  out.sample_rate = info.samplerate;
  out.channels = info.channels;
  out.frames = info.frames;
  out.duration_s = info.samplerate > 0 ? static_cast<double>(info.frames) / info.samplerate : 0.0;
  out.format = format_name(info.format);
  return out;
}

std::vector<float> load_audio(const std::string& path, int target_rate) {
  if (target_rate <= 0) {
    throw Error(path + ": target sample rate must be positive, got " + std::to_string(target_rate));
  }
  SF_INFO info;
  SndFilePtr file = open_sound(path, &info);
  if (info.samplerate <= 0 || info.channels <= 0) {
    throw Error(path + ": invalid header (" + std::to_string(info.samplerate) + " Hz, " +
                std::to_string(info.channels) + " channels)");
  }
  if (info.frames == 0) throw Error(path + ": audio is empty (0 samples)");
  const bool frames_known = info.frames > 0 && info.frames != SF_COUNT_MAX;
  const bool resample = info.samplerate != target_rate;
  // ceil(frames * target / rate), exact in integers.
  const int64_t expected =
      frames_known ? (resample ? (info.frames * target_rate + info.samplerate - 1) / info.samplerate
                               : info.frames)
                   : -1;

  std::vector<float> out;
  if (expected > 0) out.reserve(static_cast<size_t>(std::min(expected, kMaxReserveSamples)));
  std::unique_ptr<Resampler> resampler;
  if (resample) resampler = std::make_unique<Resampler>(path, info.samplerate, target_rate);

  const int channels = info.channels;
  std::vector<float> block(static_cast<size_t>(kBlockFrames) * channels);
  std::vector<float> mono(resample ? kBlockFrames : 0);
  int64_t frames_read = 0;
  for (;;) {
    const sf_count_t got = sf_readf_float(file.get(), block.data(), kBlockFrames);
    if (got <= 0) break;
    frames_read += got;
    float* dst = mono.data();
    if (!resample) {
      out.resize(out.size() + got);
      dst = out.data() + out.size() - got;
    }
    if (channels == 1) {
      std::copy(block.begin(), block.begin() + got, dst);
    } else {
      const float scale = 1.0f / channels;
      for (sf_count_t i = 0; i < got; ++i) {
        const float* frame = block.data() + i * channels;
        float sum = 0.0f;
        for (int c = 0; c < channels; ++c) sum += frame[c];
        dst[i] = sum * scale;
      }
    }
    if (resample) resampler->process(mono.data(), static_cast<size_t>(got), out);
  }
  const int sf_err = sf_error(file.get());
  if (sf_err != SF_ERR_NO_ERROR) {
    throw Error(path + ": decoding failed after " + std::to_string(frames_read) + " of " +
                std::to_string(info.frames) + " frames (libsndfile: " + sf_strerror(file.get()) +
                ")");
  }
  if (frames_known && frames_read < info.frames) {
    throw Error(path + ": decoding stopped after " + std::to_string(frames_read) + " of " +
                std::to_string(info.frames) + " frames (truncated or corrupt file)");
  }
  if (frames_read == 0) throw Error(path + ": audio is empty (0 samples)");
  if (!resample) return out;

  resampler->process(nullptr, 0, out);
  // soxr's flushed length can differ from ceil() by a sample; pin it so the
  // length matches torchaudio's resample exactly.
  const int64_t want = (frames_read * target_rate + info.samplerate - 1) / info.samplerate;
  out.resize(static_cast<size_t>(want), 0.0f);
  return out;
}

}  // namespace quasr
