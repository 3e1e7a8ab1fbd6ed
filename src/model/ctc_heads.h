// CTC output heads on top of the encoder's hidden states.
//
//  - HfCtcHead: Hugging Face Wav2Vec2ForCTC / HubertForCTC `lm_head`.
//  - SpeechBrainCtcHead: the EncoderASR stack of the tutorial's model,
//    `enc` = N × (Linear `linearK.w`, BatchNorm1d `bnK.norm` in eval mode,
//    LeakyReLU) then `ctc_lin`, read from asr.ckpt (a ModuleList [enc, ctc_lin]).
// Both end in log_softmax. hidden is [frames, hidden]; log_probs [frames, vocab].
#pragma once

#include <memory>
#include <vector>

#include "model/module_tree.h"
#include "model/wav2vec2_encoder.h"

namespace quasr::model {

class CtcHead {
 public:
  virtual ~CtcHead() = default;
  // May overwrite hidden (used as scratch).
  virtual void forward(Tensor& hidden, Workspace& ws, Tensor& log_probs) const = 0;
  virtual int64_t vocab_size() const = 0;
};

class HfCtcHead : public CtcHead {
 public:
  HfCtcHead(const BuildContext& ctx, int64_t hidden_size, int64_t vocab_size);
  void forward(Tensor& hidden, Workspace& ws, Tensor& log_probs) const override;
  int64_t vocab_size() const override { return lm_head_.out_features(); }

 private:
  Linear lm_head_;
};

class SpeechBrainCtcHead : public CtcHead {
 public:
  // ctx reads asr.ckpt keys ("0.linear1.w.weight", "1.w.weight"); the names
  // recorded are "encoder.enc.*" and "encoder.ctc_lin.*".
  // enc_prefix/ctc_prefix: key prefixes of the two parts ("0." and "1." in
  // asr.ckpt; the module names in a quasr folder).
  SpeechBrainCtcHead(const StateDict& checkpoint, const std::string& enc_prefix,
                     const std::string& ctc_prefix, int64_t hidden_size, float leaky_slope,
                     ModelBuild* build);
  float leaky_slope() const { return leaky_slope_; }
  void forward(Tensor& hidden, Workspace& ws, Tensor& log_probs) const override;
  int64_t vocab_size() const override { return ctc_lin_->out_features(); }

 private:
  struct Block {
    std::unique_ptr<Linear> linear;
    std::vector<float> bn_scale;  // BatchNorm eval affine: x * scale + shift
    std::vector<float> bn_shift;
  };
  std::vector<Block> blocks_;
  std::unique_ptr<Linear> ctc_lin_;
  float leaky_slope_;
};

}  // namespace quasr::model
