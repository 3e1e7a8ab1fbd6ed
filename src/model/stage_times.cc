#include "model/stage_times.h"

namespace quasr::model {

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::kInputNorm:
      return "input_norm";
    case Stage::kCnn:
      return "encoder.cnn";
    case Stage::kProjection:
      return "encoder.projection";
    case Stage::kPosConv:
      return "encoder.pos_conv";
    case Stage::kAttentionLinears:
      return "encoder.attention_linears";
    case Stage::kAttentionCore:
      return "encoder.attention_core";
    case Stage::kFeedForward:
      return "encoder.feed_forward";
    case Stage::kNormResidual:
      return "encoder.norm_residual";
    case Stage::kHead:
      return "head";
    case Stage::kCount:
      break;
  }
  return "unknown";
}

}  // namespace quasr::model
