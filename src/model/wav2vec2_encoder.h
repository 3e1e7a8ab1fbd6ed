// The wav2vec2 / HuBERT encoder: conv feature extractor → feature projection →
// positional conv → transformer (post-LN or stable pre-LN) → hidden states.
//
// Math follows Hugging Face's modeling_wav2vec2.py: LayerNorm eps 1e-5 in the
// extractor, config.layer_norm_eps elsewhere; exact-erf GELU; q scaled by
// head_dim^-0.5; positional conv padded by K/2 with the last frame dropped for
// even K. All activations are time-major [frames, channels].
//
// forward() is const and thread-compatible: each thread brings its Workspace.
#pragma once

#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "model/linear_group.h"
#include "model/module_tree.h"
#include "model/stage_times.h"
#include "quant/quant_math.h"

namespace quasr::model {

// One utterance's rows in a stack of utterances that run the transformer
// layers together (Wav2Vec2Encoder::run_layers): rows [first, first + padded)
// of the stack, the first `frames` of them its frames, the rest padding.
struct Segment {
  int64_t first = 0, padded = 0, frames = 0;
};

// A segment's bf16 attention input (its rows numbered from the segment's first).
struct SegmentAttention {
  Segment rows;
  kernels::Bf16AttentionInput input;
};

// Activation buffers reused across calls, so a steady-state forward over
// inputs no longer than earlier ones allocates nothing.
struct Workspace {
  Tensor input;
  Tensor hidden;
  Tensor ping;
  Tensor pong;
  Tensor qkv;  // [frames, 3 * hidden]: q | k | v
  Tensor context;
  Tensor ffn;
  AlignedBuffer attention_scores;
  // Each segment's bf16 attention input for even and for odd layers (the
  // row-share region alternates them; one parallel region per kernel uses
  // the even ones), and their memory (two buffers a segment).
  std::vector<SegmentAttention> segment_attention[2];
  std::vector<AlignedBuffer> segment_scratch;
  // Several utterances' transformer rows, stacked, where each one's lie and
  // which input it is (AsrModel::group_log_probs).
  Tensor stacked;
  std::vector<Segment> group_segments;
  std::vector<size_t> group_items;
  // Rows one int8 linear's epilogue quantized for the next (see
  // TransformerLayer::forward_int8): the attention/feed-forward input and
  // the feed-forward's inner activations.
  std::vector<uint8_t> input_u8, inner_u8;
  std::vector<quant::QuantParams> input_params, inner_params;
  // The layer whose attention input the previous layer's last epilogue
  // already put in input_u8 / input_params (null: none).
  const void* input_prepared_for = nullptr;
  // Extractor frames quantized by one conv layer for the next (static int8).
  std::vector<uint8_t> conv_u8[2];
  // One thread's frames and quantized frames when the extractor runs in
  // chunks of time (Wav2Vec2Encoder::extract_features_in_chunks).
  struct ExtractorChunk {
    Tensor frames[2];
    std::vector<uint8_t> u8[2];
  };
  std::vector<ExtractorChunk> extractor_chunks;  // one per thread
  StageTimes times;                              // of the latest forward
};

class ConvLayer {
 public:
  ConvLayer(const BuildContext& ctx, const Wav2Vec2Config& config, int index);
  // x: [t_in, c_in] → y: [t_out, c_out] after conv, norm and GELU. x_u8,
  // when given, holds x already quantized for this conv (see
  // quantized_input) and x's floats are not read. With `consumer` (the next
  // layer's quantized_input), every finished output frame is also quantized
  // for it into y_u8 [t_out, c_out], in the same pass.
  void forward(const float* x, int64_t t_in, const uint8_t* x_u8, Tensor& y,
               const kernels::StaticInt8Conv1d* consumer, uint8_t* y_u8) const;
  // Whether chunks of frames can go through this layer on several threads
  // at once: each output frame depends on its receptive field alone (no
  // GroupNorm, whose statistics span the whole utterance) and the conv's
  // kernel runs concurrently.
  bool runs_in_chunks() const { return norm_ != Norm::kGroup && conv_->runs_concurrently(); }
  // This layer's static int8 conv when it can take input frames quantized by
  // the previous layer; else null.
  const kernels::StaticInt8Conv1d* quantized_input() const;
  int64_t output_frames(int64_t t_in) const { return conv_->shape().output_length(t_in); }
  int64_t out_channels() const { return conv_->shape().out_channels; }

 private:
  enum class Norm { kNone, kGroup, kLayer };
  Norm norm_;
  std::unique_ptr<Conv1d> conv_;
  std::vector<float> norm_weight_;
  std::vector<float> norm_bias_;
};

class PositionalConv {
 public:
  PositionalConv(const BuildContext& ctx, const Wav2Vec2Config& config);
  // Adds GELU(conv(x)) (last frame dropped for even kernels) to hidden in place.
  void add_to(Tensor& hidden, Workspace& ws) const;

 private:
  std::unique_ptr<Conv1d> conv_;
};

// One thread's rows when the threads of one parallel region each keep their
// own rows through every transformer layer (Wav2Vec2Encoder::forward).
struct RowShare {
  int64_t first = 0, count = 0;
  bool leader = false;  // the thread that marks the stage times
};

class TransformerLayer {
 public:
  TransformerLayer(const BuildContext& ctx, const Wav2Vec2Config& config, int index);
  // The layer on the segments stacked in hidden, each attending to its own
  // rows alone. next: the layer after this one (null for the last), whose
  // input this layer's int8 path prepares when both run it.
  void forward(Tensor& hidden, std::span<const Segment> segments, Workspace& ws,
               const TransformerLayer* next = nullptr) const;
  void set_attention_precision(kernels::AttentionPrecision precision) {
    attention_precision_ = precision;
  }
  // Whether forward_row_share can run this layer: every linear dynamic int8
  // per row on the AMX kernel.
  bool runs_in_row_shares() const;
  // Sizes ws for forward_row_share on `frames` rows (the same for every layer).
  void prepare_int8_workspace(int64_t frames, Workspace& ws) const;
  // forward() for the rows of `share` of the stacked segments in hidden,
  // called by every thread of a parallel region with its own share: the
  // threads meet only before attention (all keys written). Each segment
  // attends to its own rows alone. ws prepared, the attention inputs shared
  // (and not rewritten by the next layer); input_prepared: the previous layer
  // left this one's q/k/v input.
  void forward_row_share(const RowShare& share, Tensor& hidden,
                         std::span<const SegmentAttention> segments, Workspace& ws,
                         bool input_prepared, const TransformerLayer* next) const;

 private:
  // The four linears when every one is dynamic int8 with per-row activations.
  struct Int8Linears {
    const kernels::DynamicInt8Linear* qkv;
    const kernels::DynamicInt8Linear* out;
    const kernels::DynamicInt8Linear* ffn_in;
    const kernels::DynamicInt8Linear* ffn_out;
  };
  bool int8_linears(Int8Linears* linears) const;
  // Same math as forward()'s other path, bit for bit, in fewer passes: each
  // linear's epilogue does the next step's per-row work (residual add,
  // LayerNorm, quantizing the next linear's input) while the row is in cache.
  void forward_int8(const Int8Linears& linears, Tensor& hidden, std::span<const Segment> segments,
                    Workspace& ws, const TransformerLayer* next) const;
  // The int8 layer on all rows with each kernel sharing its work between the
  // threads (share null), or on one thread's share inside a parallel region.
  // segments: the stacked utterances, for fp32 attention; bf16: each one's
  // bf16 attention input (empty: fp32 attention; never with share).
  struct Int8Step {
    const Int8Linears& linears;
    float* x;
    int64_t frames;
    Workspace& ws;
    std::span<const Segment> segments;
    std::span<const SegmentAttention> bf16;
    const RowShare* share;
  };
  // The share's attention: its q/k/v rows laid out, keys prepared, every
  // thread's keys awaited, then its rows' context in ws.context.
  void attend_row_share(const Int8Step& step) const;
  void run_int8(const Int8Step& step, bool input_prepared, const TransformerLayer* next) const;
  // x -> attention -> residual (and post-LN); leaves the feed-forward's
  // quantized input in ws.input_u8 / ws.input_params. input_prepared: the
  // q/k/v input is there already (the previous layer's last epilogue).
  void int8_attention_block(const Int8Step& step, bool input_prepared) const;
  // next (may be null): a layer on the int8 path whose q/k/v input each
  // finished row also goes to (its LayerNorm if pre-LN, then quantized).
  void int8_feed_forward_block(const Int8Step& step, const TransformerLayer* next) const;
  // step's linear on its rows (all, or the share's on this thread).
  void run_linear(const Int8Step& step, const kernels::DynamicInt8Linear& linear, const uint8_t* q,
                  const quant::QuantParams* params, float* y, int64_t ld_y,
                  kernels::RowSink row_done) const;
  void attention(const float* input, int64_t frames, std::span<const Segment> segments,
                 Workspace& ws, float* output) const;
  // ws.qkv -> ws.context, each segment on its own.
  void attention_core(int64_t frames, std::span<const Segment> segments, Workspace& ws) const;
  float attention_scale() const { return 1.0f / std::sqrt(static_cast<float>(head_dim_)); }
  void feed_forward(const float* input, int64_t frames, Workspace& ws, float* output) const;

  bool stable_;
  int64_t heads_;
  int64_t head_dim_;
  LinearGroup qkv_proj_;  // q_proj, k_proj, v_proj
  Linear out_proj_;
  LayerNorm layer_norm_;
  Linear intermediate_dense_, output_dense_;
  LayerNorm final_layer_norm_;
  kernels::AttentionPrecision attention_precision_ = kernels::AttentionPrecision::kFp32;
};

class Wav2Vec2Encoder {
 public:
  // ctx reads keys relative to the HF Wav2Vec2Model root ("feature_extractor...").
  Wav2Vec2Encoder(const BuildContext& ctx, const Wav2Vec2Config& config);

  // wav: [samples] mono 16 kHz (already normalised if the model wants it).
  // hidden: [padded, hidden_size], padded = padded_frames(frames); rows past
  // `frames` are padding. Returns frames. embed() then run_layers().
  int64_t forward(const float* wav, int64_t samples, Workspace& ws, Tensor& hidden) const;
  // The transformer's input rows for wav in hidden (as forward's, before the
  // layers): extractor, projection, positional conv and, post-LN, the
  // encoder's LayerNorm. Returns frames.
  int64_t embed(const float* wav, int64_t samples, Workspace& ws, Tensor& hidden) const;
  // The layers (and pre-LN, the final LayerNorm) on the segments stacked in
  // hidden, which they cover in order. Each segment attends to its own rows
  // alone and every other step works row by row, so each gets what
  // forward() gives it alone: the same bits where the linears' kernels give
  // a row the same result whatever rows come with it (int8: integer sums;
  // quasr's AMX kernels), and the weights stream from memory once for all.
  void run_layers(Tensor& hidden, std::span<const Segment> segments, Workspace& ws) const;
  // Whether run_layers runs several segments, `rows` rows in all, in row
  // shares (as shares_rows, but on one thread too).
  bool stacks_share_rows(int64_t rows) const;
  // Rows the transformer runs for `frames` frames (a multiple of 32).
  static int64_t padded_frames(int64_t frames);
  const Wav2Vec2Config& config() const { return config_; }
  // fp32 by default; quantized models run bf16 (see AsrModel).
  void set_attention_precision(kernels::AttentionPrecision precision);
  kernels::AttentionPrecision attention_precision() const { return attention_precision_; }
  // Whether forward runs the transformer layers in one parallel region, each
  // thread on its own rows, for `padded` frames: every linear dynamic int8 per
  // row on AMX, bf16 attention on AMX, 2+ threads with 64+ rows each, and
  // QUASR_ROW_SHARES not 0 (which keeps one parallel region per kernel).
  bool shares_rows(int64_t padded) const;
  // Whether forward runs the feature extractor in chunks of output frames on
  // every thread (see extract_features_in_chunks): every conv layer can and
  // QUASR_EXTRACTOR_CHUNKS is not 0 (a number there sets the chunk size).
  bool extracts_in_chunks() const { return extractor_chunk_frames() > 0; }

 private:
  Wav2Vec2Config config_;
  kernels::AttentionPrecision attention_precision_ = kernels::AttentionPrecision::kFp32;
  std::vector<ConvLayer> conv_layers_;
  std::unique_ptr<LayerNorm> projection_norm_;
  std::unique_ptr<Linear> projection_;
  PositionalConv positional_conv_;
  std::unique_ptr<LayerNorm> encoder_norm_;
  std::vector<TransformerLayer> layers_;

  // The extractor's output frames [frames, conv_dim.back()] for wav.
  void extract_features(const float* wav, int64_t samples, Workspace& ws, Tensor& out) const;
  // The same, each thread taking chunks of output frames through every conv
  // layer in turn, where every layer can (ConvLayer::runs_in_chunks); false
  // (nothing run) otherwise.
  bool extract_features_in_chunks(const float* wav, int64_t samples, Workspace& ws,
                                  Tensor& out) const;
  // The conv layers on t_in samples at x, their frames alternating between
  // frames[0] and frames[1] (the last layer writes frames[0], returned), the
  // u8 frames between static int8 convs in u8[0] and u8[1].
  const Tensor& run_conv_layers(const float* x, int64_t t_in, Tensor* frames[2],
                                std::vector<uint8_t> u8[2]) const;
  // Output frames per extractor chunk; 0 where the extractor runs whole.
  int64_t extractor_chunk_frames() const;

  // shares_rows but for the thread count and the rows.
  bool layers_share_rows() const;
  // The transformer layers in one parallel region, each thread on its own
  // rows (RowShare) of the stacked segments.
  void forward_layers_in_row_shares(Tensor& hidden, std::span<const Segment> segments,
                                    Workspace& ws) const;
};

}  // namespace quasr::model
