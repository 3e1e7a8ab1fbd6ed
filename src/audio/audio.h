// Audio file input: decode anything libsndfile reads (WAV, FLAC, OGG Vorbis,
// AIFF, ...), downmix to mono and resample to the model's rate.
//
// Usage:
//   quasr::AudioInfo info = quasr::probe_audio("a.flac");   // header only
//   std::vector<float> wav = quasr::load_audio("a.flac");    // mono, 16 kHz
//
// All functions are thread-safe (no shared state) and throw quasr::Error with
// one line that names the file on any problem.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace quasr {

struct AudioInfo {
  int sample_rate = 0;  // Hz, as stored in the file
  int channels = 0;
  int64_t frames = 0;     // samples per channel, from the header
  double duration_s = 0;  // frames / sample_rate
  std::string format;     // libsndfile's names, e.g. "FLAC (Free Lossless Audio Codec), 16 bit PCM"
};

// Reads only the header. Throws on a missing file or one libsndfile cannot open.
AudioInfo probe_audio(const std::string& path);

// Returns the whole file as mono float32 at target_rate, in [-1, 1) for
// integer sources (int16 x / 32768, int24 x / 2^23, as torchaudio.load and
// soundfile give). Float/double files are passed through unscaled.
//   - Channels are averaged (sum / channels), as torchaudio's mean(dim=0).
//   - Resampling, when the file's rate differs, uses libsoxr SOXR_HQ
//     (20-bit precision, linear phase, delay-compensated so output sample n is
//     time n / target_rate).
//   - The output length is ceil(frames * target_rate / file_rate), the length
//     torchaudio.functional.resample produces; equal to frames when no
//     resampling is needed.
// Decoding and resampling run in fixed-size blocks, so extra memory beyond the
// returned vector is a few hundred KiB whatever the file length.
// Throws quasr::Error when: the file does not exist; libsndfile cannot open
// it (its message is included); it has 0 frames; decoding fails or stops
// before the header's frame count (truncated/corrupt FLAC, OGG, ...);
// target_rate is not positive.
std::vector<float> load_audio(const std::string& path, int target_rate = 16000);

}  // namespace quasr
