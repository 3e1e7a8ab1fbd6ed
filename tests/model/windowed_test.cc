// AsrModel::log_probs_windowed: long input in overlapping windows, cut and
// joined on the extractor's frame grid. The expected rows are worked out by
// hand for one layout (windows of 20 frames, 3 frames of context, 50 frames
// in all) and compared bit for bit with each window run on its own.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/asr_model.h"

namespace quasr::model {
namespace {

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

std::vector<float> noise(int64_t samples) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 0.1f);
  std::vector<float> wav(static_cast<size_t>(samples));
  for (float& v : wav) v = dist(rng);
  return wav;
}

class WindowedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = load_model(fixture("models/hf_large_st"));
    // The fewest samples for 20 and 50 frames (FrameGrid checks both methods).
    const Wav2Vec2Config& config = model_->config();
    grid_ = config.samples_per_frame();
    window_ = config.samples_for_frames(20);
    // 50 whole frames and half a frame's worth more (a ragged end).
    wav_ = noise(config.samples_for_frames(50) + grid_ / 2);
  }
  // Rows [first, first + count) of the input's window starting at frame
  // `start_frame` (samples from start_frame * grid, `length` of them).
  Tensor window_rows(int64_t start_frame, int64_t length) {
    Tensor out;
    model_->log_probs(wav_.data() + start_frame * grid_, length, ws_, out);
    return out;
  }
  std::unique_ptr<AsrModel> model_;
  Workspace ws_;
  int64_t grid_ = 0, window_ = 0;
  std::vector<float> wav_;
};

void expect_rows_equal(const Tensor& actual, int64_t first, const Tensor& window,
                       int64_t window_first, int64_t count) {
  const int64_t vocab = actual.dim(1);
  ASSERT_LE(window_first + count, window.dim(0));
  EXPECT_EQ(0, std::memcmp(actual.data() + first * vocab, window.data() + window_first * vocab,
                           sizeof(float) * count * vocab))
      << "rows " << first << "-" << first + count;
}

// The grid windows and extractor chunks are placed on: wav2vec2's extractor
// sees 25 ms (400 samples at 16 kHz) per frame and advances 20 ms (320).
TEST(FrameGrid, Wav2Vec2ExtractorReadsFourHundredSamplesPerFrameEveryThreeHundredTwenty) {
  const Wav2Vec2Config config;
  EXPECT_EQ(config.samples_per_frame(), 320);
  EXPECT_EQ(config.samples_for_frames(1), 400);
  EXPECT_EQ(config.samples_for_frames(50), 320 * 49 + 400);
  for (int64_t frames : {1, 2, 49, 500}) {
    EXPECT_EQ(config.frames_for_samples(config.samples_for_frames(frames)), frames);
    EXPECT_EQ(config.frames_for_samples(config.samples_for_frames(frames) - 1), frames - 1);
  }
}

TEST_F(WindowedTest, EachFrameComesFromTheWindowWhereItIsFarthestFromACut) {
  const auto samples = static_cast<int64_t>(wav_.size());
  ASSERT_EQ(model_->config().frames_for_samples(window_), 20);
  ASSERT_EQ(model_->config().frames_for_samples(samples), 50);
  Tensor joined;
  model_->log_probs_windowed(wav_.data(), samples, window_, 3 * grid_, ws_, joined);
  ASSERT_EQ(joined.dim(0), 50);
  // Windows advance 20 - 2 * 3 = 14 frames: they cover frames [0, 20),
  // [14, 34), [28, 48) and [42, 50) (the last runs to the input's end).
  // Kept: [0, 17), [17, 31), [31, 45), [45, 50).
  expect_rows_equal(joined, 0, window_rows(0, window_), 0, 17);
  expect_rows_equal(joined, 17, window_rows(14, window_), 3, 14);
  expect_rows_equal(joined, 31, window_rows(28, window_), 3, 14);
  expect_rows_equal(joined, 45, window_rows(42, samples - 42 * grid_), 3, 5);
}

TEST_F(WindowedTest, WithoutContextWindowsMeetWithNoFrameLost) {
  const auto samples = static_cast<int64_t>(wav_.size());
  Tensor joined;
  model_->log_probs_windowed(wav_.data(), samples, window_, 0, ws_, joined);
  ASSERT_EQ(joined.dim(0), 50);
  // Windows at frames 0, 20, 40: all of each window's frames.
  expect_rows_equal(joined, 0, window_rows(0, window_), 0, 20);
  expect_rows_equal(joined, 20, window_rows(20, window_), 0, 20);
  expect_rows_equal(joined, 40, window_rows(40, samples - 40 * grid_), 0, 10);
}

TEST_F(WindowedTest, InputOfOneWindowIsRunWhole) {
  const int64_t samples = window_;
  Tensor whole, windowed;
  model_->log_probs(wav_.data(), samples, ws_, whole);
  model_->log_probs_windowed(wav_.data(), samples, window_, 3 * grid_, ws_, windowed);
  ASSERT_EQ(whole.shape(), windowed.shape());
  EXPECT_EQ(0, std::memcmp(whole.data(), windowed.data(), sizeof(float) * whole.numel()));
}

TEST_F(WindowedTest, ContextThatLeavesNoFrameIsAnError) {
  Tensor out;
  try {
    model_->log_probs_windowed(wav_.data(), static_cast<int64_t>(wav_.size()), window_, 10 * grid_,
                               ws_, out);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("keep no frame"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quasr::model
