#include "model/ctc_heads.h"

#include <cmath>

#include "core/error.h"
#include "kernels/elementwise.h"

namespace quasr::model {

namespace {
// speechbrain.nnet.normalization.BatchNorm1d's default.
constexpr float kBatchNormEps = 1e-5f;
}  // namespace

HfCtcHead::HfCtcHead(const BuildContext& ctx, int64_t hidden_size, int64_t vocab_size)
    : lm_head_(ctx, "lm_head", hidden_size, vocab_size, true) {}

void HfCtcHead::forward(Tensor& hidden, Workspace&, Tensor& log_probs) const {
  const int64_t frames = hidden.dim(0);
  log_probs.resize({frames, lm_head_.out_features()});
  lm_head_.forward(hidden.data(), frames, log_probs.data());
  kernels::log_softmax_rows(log_probs.data(), frames, lm_head_.out_features());
}

SpeechBrainCtcHead::SpeechBrainCtcHead(const StateDict& checkpoint, const std::string& enc_prefix,
                                       const std::string& ctc_prefix, int64_t hidden_size,
                                       float leaky_slope, ModelBuild* build)
    : leaky_slope_(leaky_slope) {
  BuildContext enc(checkpoint, enc_prefix, "encoder.enc.", build);
  int64_t width = hidden_size;
  for (int k = 1; enc.has("linear" + std::to_string(k) + ".w.weight"); ++k) {
    const std::string linear = "linear" + std::to_string(k) + ".w";
    const std::string norm = "bn" + std::to_string(k) + ".norm";
    int64_t out = checkpoint.get(enc_prefix + linear + ".weight").shape.at(0);
    Block block;
    block.linear = std::make_unique<Linear>(enc, linear, width, out, true);
    std::vector<float> gamma = enc.read(norm + ".weight", {out});
    std::vector<float> beta = enc.read(norm + ".bias", {out});
    std::vector<float> mean = enc.read(norm + ".running_mean", {out});
    std::vector<float> var = enc.read(norm + ".running_var", {out});
    block.bn_scale.resize(out);
    block.bn_shift.resize(out);
    for (int64_t c = 0; c < out; ++c) {
      double scale = gamma[c] / std::sqrt(double(var[c]) + kBatchNormEps);
      block.bn_scale[c] = static_cast<float>(scale);
      block.bn_shift[c] = static_cast<float>(beta[c] - mean[c] * scale);
    }
    enc.record(
        norm, "BatchNorm1d",
        {{"weight", {out}}, {"bias", {out}}, {"running_mean", {out}}, {"running_var", {out}}});
    blocks_.push_back(std::move(block));
    width = out;
  }
  if (!checkpoint.contains(ctc_prefix + "w.weight"))
    throw Error(checkpoint.source() + ": tensor '" + ctc_prefix + "w.weight' (ctc_lin) not found");
  int64_t vocab = checkpoint.get(ctc_prefix + "w.weight").shape.at(0);
  BuildContext ctc(checkpoint, ctc_prefix, "encoder.ctc_lin.", build);
  ctc_lin_ = std::make_unique<Linear>(ctc, "w", width, vocab, true);
}

void SpeechBrainCtcHead::forward(Tensor& hidden, Workspace& ws, Tensor& log_probs) const {
  const int64_t frames = hidden.dim(0);
  Tensor* current = &hidden;
  Tensor* next = &ws.ffn;
  for (const Block& block : blocks_) {
    const int64_t out = block.linear->out_features();
    next->resize({frames, out});
    block.linear->forward(current->data(), frames, next->data());
    kernels::channel_affine_leaky_relu(next->data(), frames, out, block.bn_scale.data(),
                                       block.bn_shift.data(), leaky_slope_);
    std::swap(current, next);
  }
  log_probs.resize({frames, ctc_lin_->out_features()});
  ctc_lin_->forward(current->data(), frames, log_probs.data());
  kernels::log_softmax_rows(log_probs.data(), frames, ctc_lin_->out_features());
}

}  // namespace quasr::model
