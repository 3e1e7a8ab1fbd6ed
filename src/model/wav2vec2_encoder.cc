#include "model/wav2vec2_encoder.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>

#include <omp.h>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/int8/amx_int8_matmul.h"
#include "kernels/int8/int8_conv1d.h"
#include "kernels/int8/int8_linear.h"

namespace quasr::model {

using kernels::Activation;

namespace {
// Hugging Face hard-codes this epsilon for the extractor norms (not layer_norm_eps).
constexpr float kExtractorNormEps = 1e-5f;
constexpr int64_t kFrameBucket = 32;
// Output frames per extractor chunk (see extract_features_in_chunks).
constexpr int64_t kExtractorChunkFrames = 32;

std::string layer_path(const char* container, int index) {
  return std::string(container) + "." + std::to_string(index);
}

// The segment that holds `row` (one must).
const SegmentAttention& segment_of_row(std::span<const SegmentAttention> segments, int64_t row) {
  auto after = std::upper_bound(
      segments.begin(), segments.end(), row,
      [](int64_t r, const SegmentAttention& segment) { return r < segment.rows.first; });
  return *(after - 1);
}

// A bf16 attention input for each segment with rows, in scratch buffers
// [2 s + parity] (grown as needed).
void lay_out_attention(std::span<const Segment> segments, int64_t heads, int64_t head_dim,
                       std::vector<AlignedBuffer>& scratch, int parity,
                       std::vector<SegmentAttention>& inputs) {
  if (scratch.size() < 2 * segments.size()) scratch.resize(2 * segments.size());
  inputs.clear();
  for (size_t s = 0; s < segments.size(); ++s) {
    if (segments[s].padded == 0) continue;  // an utterance too short for a frame
    inputs.push_back({segments[s], kernels::Bf16AttentionInput(segments[s].padded, heads, head_dim,
                                                               scratch[2 * s + parity])});
  }
}
}  // namespace

ConvLayer::ConvLayer(const BuildContext& ctx, const Wav2Vec2Config& config, int index) {
  const std::string path = layer_path("feature_extractor.conv_layers", index);
  kernels::Conv1dShape shape;
  shape.in_channels = index == 0 ? 1 : config.conv_dim[index - 1];
  shape.out_channels = config.conv_dim[index];
  shape.kernel = config.conv_kernel[index];
  shape.stride = config.conv_stride[index];
  if (config.layer_norm_extractor()) {
    norm_ = Norm::kLayer;
  } else {
    norm_ = index == 0 ? Norm::kGroup : Norm::kNone;
  }
  // Quantized folders store no fp32 weight: Conv1d then reads the int8 one.
  std::vector<float> weight;
  if (!ctx.quantized(path + ".conv"))
    weight = ctx.read(path + ".conv.weight", {shape.out_channels, shape.in_channels, shape.kernel});
  std::vector<float> bias;
  if (config.conv_bias) bias = ctx.read(path + ".conv.bias", {shape.out_channels});
  // With no norm in between, GELU runs in the convolution's epilogue.
  Activation fused = norm_ == Norm::kNone ? Activation::kGelu : Activation::kNone;
  conv_ = std::make_unique<Conv1d>(ctx, path + ".conv", shape, std::move(weight), std::move(bias),
                                   fused);
  if (norm_ != Norm::kNone) {
    norm_weight_ = ctx.read(path + ".layer_norm.weight", {shape.out_channels});
    norm_bias_ = ctx.read(path + ".layer_norm.bias", {shape.out_channels});
    ctx.record(path + ".layer_norm", norm_ == Norm::kGroup ? "GroupNorm" : "LayerNorm",
               {{"weight", {shape.out_channels}}, {"bias", {shape.out_channels}}});
  }
}

const kernels::StaticInt8Conv1d* ConvLayer::quantized_input() const {
  const kernels::StaticInt8Conv1d* conv = conv_->static_int8();
  return conv && conv->takes_quantized_rows() && norm_ != Norm::kGroup ? conv : nullptr;
}

void ConvLayer::forward(const float* x, int64_t t_in, const uint8_t* x_u8, Tensor& y,
                        const kernels::StaticInt8Conv1d* consumer, uint8_t* y_u8) const {
  const kernels::Conv1dShape& shape = conv_->shape();
  const int64_t frames = shape.output_length(t_in);
  const int64_t channels = shape.out_channels;
  y.resize({frames, channels});
  // When only the next conv's quantized input is kept, each frame stays in
  // the kernel's per-thread buffer until finish_frame has quantized it: the
  // float frames (512 channels at 3200 frames/s for the first conv) never
  // go out to memory. y keeps the shape.
  const kernels::StaticInt8Conv1d* own = x_u8 ? quantized_input() : conv_->static_int8();
  const bool rows_in_cache = consumer && norm_ != Norm::kGroup && own && own->rows_without_output();
  float* out = rows_in_cache ? nullptr : y.data();
  // What is left of a frame after the conv's epilogue (which did the GELU
  // when there is no norm): LayerNorm + GELU, the next conv's quantization.
  auto finish_frame = [&](int64_t t, float* row) {
    if (norm_ == Norm::kLayer)
      kernels::layer_norm_gelu_row(row, channels, norm_weight_.data(), norm_bias_.data(),
                                   kExtractorNormEps, row);
    if (consumer) consumer->quantize_row(row, y_u8 + t * channels);
  };
  if (x_u8) {
    quantized_input()->run_quantized(x_u8, t_in, out, finish_frame);
    return;
  }
  const kernels::RowSink finish = kernels::RowSink(finish_frame);
  if (norm_ == Norm::kGroup) {
    // Its statistics span all frames (a pass of their own); the affine map
    // and GELU then go frame by frame and finish each frame too.
    conv_->forward(x, t_in, out);
    kernels::group_norm_gelu_channels(out, frames, channels, norm_weight_.data(), norm_bias_.data(),
                                      kExtractorNormEps, consumer ? finish : kernels::RowSink());
    return;
  }
  // Each frame finished by the conv's own epilogue, in cache (without a norm
  // or a consumer there is nothing left to do).
  conv_->forward(x, t_in, out, norm_ == Norm::kLayer || consumer ? finish : kernels::RowSink());
}

namespace {

// Weight norm with dim=2: w[o, i, k] = g[k] * v[o, i, k] / ||v[:, :, k]||.
std::vector<float> positional_conv_weight(const BuildContext& ctx, const std::string& path,
                                          const Shape& shape) {
  std::string g_key = path + ".weight_g", v_key = path + ".weight_v";
  if (!ctx.has(g_key) && ctx.has(path + ".parametrizations.weight.original0")) {
    g_key = path + ".parametrizations.weight.original0";
    v_key = path + ".parametrizations.weight.original1";
  }
  if (!ctx.has(g_key) && ctx.has(path + ".weight")) return ctx.read(path + ".weight", shape);
  const int64_t kernel = shape[2];
  std::vector<float> g = ctx.read(g_key, {1, 1, kernel});
  std::vector<float> v = ctx.read(v_key, shape);
  std::vector<double> norm(kernel, 0.0);
  for (size_t i = 0; i < v.size(); ++i) norm[i % kernel] += double(v[i]) * v[i];
  for (int64_t k = 0; k < kernel; ++k) norm[k] = std::sqrt(norm[k]);
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t k = static_cast<int64_t>(i % kernel);
    v[i] = static_cast<float>(g[k] * (v[i] / norm[k]));
  }
  return v;
}

}  // namespace

PositionalConv::PositionalConv(const BuildContext& ctx, const Wav2Vec2Config& config) {
  const std::string path = "encoder.pos_conv_embed.conv";
  kernels::Conv1dShape shape;
  shape.in_channels = shape.out_channels = config.hidden_size;
  shape.kernel = config.num_conv_pos_embeddings;
  shape.padding = shape.kernel / 2;
  shape.groups = config.num_conv_pos_embedding_groups;
  Shape weight_shape{config.hidden_size, config.hidden_size / shape.groups, shape.kernel};
  std::vector<float> weight;
  if (!ctx.quantized(path)) weight = positional_conv_weight(ctx, path, weight_shape);
  std::vector<float> bias = ctx.read(path + ".bias", {config.hidden_size});
  conv_ = std::make_unique<Conv1d>(ctx, path, shape, std::move(weight), std::move(bias),
                                   Activation::kGelu);
}

void PositionalConv::add_to(Tensor& hidden, Workspace& ws) const {
  const int64_t frames = hidden.dim(0);
  int64_t out_frames = conv_->shape().output_length(frames);
  ws.ping.resize({out_frames, hidden.dim(1)});
  conv_->forward(hidden.data(), frames, ws.ping.data());
  // An even kernel gives frames + 1 outputs; adding only the first `frames`
  // rows drops the last one, as Wav2Vec2SamePadLayer does.
  kernels::add_inplace(hidden.data(), ws.ping.data(), frames * hidden.dim(1));
}

TransformerLayer::TransformerLayer(const BuildContext& ctx, const Wav2Vec2Config& config, int index)
    : stable_(config.do_stable_layer_norm),
      heads_(config.num_attention_heads),
      head_dim_(config.head_dim()),
      qkv_proj_(ctx,
                {{layer_path("encoder.layers", index) + ".attention.q_proj", config.hidden_size},
                 {layer_path("encoder.layers", index) + ".attention.k_proj", config.hidden_size},
                 {layer_path("encoder.layers", index) + ".attention.v_proj", config.hidden_size}},
                config.hidden_size),
      out_proj_(ctx, layer_path("encoder.layers", index) + ".attention.out_proj",
                config.hidden_size, config.hidden_size, true),
      layer_norm_(ctx, layer_path("encoder.layers", index) + ".layer_norm", config.hidden_size,
                  config.layer_norm_eps),
      intermediate_dense_(ctx,
                          layer_path("encoder.layers", index) + ".feed_forward.intermediate_dense",
                          config.hidden_size, config.intermediate_size, true, Activation::kGelu),
      output_dense_(ctx, layer_path("encoder.layers", index) + ".feed_forward.output_dense",
                    config.intermediate_size, config.hidden_size, true),
      final_layer_norm_(ctx, layer_path("encoder.layers", index) + ".final_layer_norm",
                        config.hidden_size, config.layer_norm_eps) {}

void TransformerLayer::attention(const float* input, int64_t frames,
                                 std::span<const Segment> segments, Workspace& ws,
                                 float* output) const {
  ws.qkv.resize({frames, qkv_proj_.out_features()});
  ws.times.mark(Stage::kNormResidual);
  qkv_proj_.forward(input, frames, ws.qkv.data());
  ws.times.mark(Stage::kAttentionLinears);
  attention_core(frames, segments, ws);
  out_proj_.forward(ws.context.data(), frames, output);
  ws.times.mark(Stage::kAttentionLinears);
}

void TransformerLayer::attention_core(int64_t frames, std::span<const Segment> segments,
                                      Workspace& ws) const {
  const int64_t width = heads_ * head_dim_, ld = qkv_proj_.out_features();
  ws.context.resize({frames, width});
  for (const Segment& segment : segments) {
    if (segment.padded == 0) continue;
    const float* qkv = ws.qkv.data() + segment.first * ld;
    kernels::self_attention(qkv + qkv_proj_.offset(0), qkv + qkv_proj_.offset(1),
                            qkv + qkv_proj_.offset(2), ld, segment.padded, segment.frames, heads_,
                            head_dim_, attention_scale(), ws.context.data() + segment.first * width,
                            width, ws.attention_scores, attention_precision_);
  }
  ws.times.mark(Stage::kAttentionCore);
}

void TransformerLayer::feed_forward(const float* input, int64_t frames, Workspace& ws,
                                    float* output) const {
  ws.ffn.resize({frames, intermediate_dense_.out_features()});
  ws.times.mark(Stage::kNormResidual);
  intermediate_dense_.forward(input, frames, ws.ffn.data());
  output_dense_.forward(ws.ffn.data(), frames, output);
  ws.times.mark(Stage::kFeedForward);
}

bool TransformerLayer::int8_linears(Int8Linears* linears) const {
  linears->qkv = qkv_proj_.per_row_dynamic_int8();
  linears->out = out_proj_.per_row_dynamic_int8();
  linears->ffn_in = intermediate_dense_.per_row_dynamic_int8();
  linears->ffn_out = output_dense_.per_row_dynamic_int8();
  return linears->qkv && linears->out && linears->ffn_in && linears->ffn_out;
}

void TransformerLayer::forward(Tensor& hidden, std::span<const Segment> segments, Workspace& ws,
                               const TransformerLayer* next) const {
  Int8Linears int8;
  if (int8_linears(&int8)) return forward_int8(int8, hidden, segments, ws, next);
  const int64_t frames = hidden.dim(0);
  const int64_t count = hidden.numel();
  ws.ping.resize(hidden.shape());
  ws.pong.resize(hidden.shape());
  float* x = hidden.data();
  if (stable_) {  // x = x + attn(LN(x)); x = x + FF(LN(x))
    layer_norm_.forward(x, frames, ws.ping.data());
    attention(ws.ping.data(), frames, segments, ws, ws.pong.data());
    final_layer_norm_.add_then_forward(x, ws.pong.data(), frames, ws.ping.data());
    feed_forward(ws.ping.data(), frames, ws, ws.pong.data());
    kernels::add_inplace(x, ws.pong.data(), count);
  } else {  // x = LN(x + attn(x)); x = LN(x + FF(x))
    // Each row of pong takes x's row before LayerNorm writes x's row.
    attention(x, frames, segments, ws, ws.pong.data());
    layer_norm_.add_then_forward(ws.pong.data(), x, frames, x);
    feed_forward(x, frames, ws, ws.pong.data());
    final_layer_norm_.add_then_forward(ws.pong.data(), x, frames, x);
  }
  ws.times.mark(Stage::kNormResidual);
}

bool TransformerLayer::runs_in_row_shares() const {
  Int8Linears linears;
  return int8_linears(&linears) && linears.qkv->runs_rows_on_this_thread() &&
         linears.out->runs_rows_on_this_thread() && linears.ffn_in->runs_rows_on_this_thread() &&
         linears.ffn_out->runs_rows_on_this_thread();
}

void TransformerLayer::prepare_int8_workspace(int64_t frames, Workspace& ws) const {
  const int64_t width = heads_ * head_dim_, inner = intermediate_dense_.out_features();
  ws.ping.resize({frames, width});
  ws.pong.resize({frames, width});
  ws.qkv.resize({frames, qkv_proj_.out_features()});
  ws.context.resize({frames, width});
  ws.ffn.resize({frames, inner});
  grow(ws.input_u8, frames * width);
  grow(ws.input_params, frames);
  grow(ws.inner_u8, frames * inner);
  grow(ws.inner_params, frames);
}

void TransformerLayer::forward_int8(const Int8Linears& linears, Tensor& hidden,
                                    std::span<const Segment> segments, Workspace& ws,
                                    const TransformerLayer* next) const {
  const int64_t frames = hidden.dim(0);
  prepare_int8_workspace(frames, ws);
  const bool input_prepared = ws.input_prepared_for == this;
  ws.input_prepared_for = nullptr;
  // bf16 attention takes q, k and v from the projection's epilogue.
  std::vector<SegmentAttention>& bf16 = ws.segment_attention[0];
  bf16.clear();
  if (attention_precision_ == kernels::AttentionPrecision::kBf16 &&
      kernels::bf16_attention_available())
    lay_out_attention(segments, heads_, head_dim_, ws.segment_scratch, 0, bf16);
  Int8Linears next_linears;
  if (next && !next->int8_linears(&next_linears)) next = nullptr;
  run_int8({linears, hidden.data(), frames, ws, segments, bf16, nullptr}, input_prepared, next);
  if (next) ws.input_prepared_for = next;
}

void TransformerLayer::forward_row_share(const RowShare& share, Tensor& hidden,
                                         std::span<const SegmentAttention> segments, Workspace& ws,
                                         bool input_prepared, const TransformerLayer* next) const {
  Int8Linears linears;
  int8_linears(&linears);
  run_int8({linears, hidden.data(), hidden.dim(0), ws, {}, segments, &share}, input_prepared, next);
}

void TransformerLayer::run_int8(const Int8Step& step, bool input_prepared,
                                const TransformerLayer* next) const {
  int8_attention_block(step, input_prepared);
  int8_feed_forward_block(step, next);
}

void TransformerLayer::run_linear(const Int8Step& step, const kernels::DynamicInt8Linear& linear,
                                  const uint8_t* q, const quant::QuantParams* params, float* y,
                                  int64_t ld_y, kernels::RowSink row_done) const {
  if (step.share) {
    linear.run_quantized_rows(q, params, step.share->first, step.share->count, y, ld_y, row_done);
  } else {
    linear.run_quantized(q, params, step.frames, y, ld_y, row_done);
  }
}

namespace {
// Runs row(i) for the step's rows: the share's on this thread, or all of
// them spread over the threads.
template <typename Row>
void for_each_row(const RowShare* share, int64_t frames, const Row& row) {
  if (share) {
    for (int64_t i = share->first; i < share->first + share->count; ++i) row(i);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < frames; ++i) row(i);
}
}  // namespace

void TransformerLayer::int8_attention_block(const Int8Step& step, bool input_prepared) const {
  const int64_t width = heads_ * head_dim_, frames = step.frames;
  const Int8Linears& linears = step.linears;
  Workspace& ws = step.ws;
  float* x = step.x;
  float* normed = ws.ping.data();
  uint8_t* input_u8 = ws.input_u8.data();
  quant::QuantParams* input_params = ws.input_params.data();
  auto mark = [&](Stage stage) {
    if (!step.share || step.share->leader) ws.times.mark(stage);
  };
  auto to_bf16 = [&](int64_t i, float* row) {
    const SegmentAttention& segment = segment_of_row(step.bf16, i);
    segment.input.write_frame(i - segment.rows.first, row + qkv_proj_.offset(0),
                              row + qkv_proj_.offset(1), row + qkv_proj_.offset(2));
  };
  const kernels::RowSink qkv_done =
      step.bf16.empty() ? kernels::RowSink() : kernels::RowSink(to_bf16);
  // Pre-LN: x = x + attn(LN(x)); x = x + FF(LN(x)). Post-LN: x = LN(x + attn(x)); ...
  if (!input_prepared && (stable_ || step.share)) {
    for_each_row(step.share, frames, [&](int64_t i) {
      const float* input = x + i * width;
      if (stable_) {
        layer_norm_.forward_row(input, normed + i * width);
        input = normed + i * width;
      }
      linears.qkv->quantize_row(input, input_u8 + i * width, &input_params[i]);
    });
  }
  mark(Stage::kNormResidual);
  if (step.share) {
    attend_row_share(step);
  } else {
    if (stable_ || input_prepared) {
      run_linear(step, *linears.qkv, input_u8, input_params, ws.qkv.data(),
                 qkv_proj_.out_features(), qkv_done);
    } else {
      linears.qkv->run(x, frames, width, ws.qkv.data(), qkv_proj_.out_features(), qkv_done);
    }
    mark(Stage::kAttentionLinears);
    if (step.bf16.empty()) {
      attention_core(frames, step.segments, ws);
    } else {
      for (const SegmentAttention& segment : step.bf16)
        segment.input.attend(segment.rows.frames, attention_scale(),
                             ws.context.data() + segment.rows.first * width, width);
    }
  }
  mark(Stage::kAttentionCore);
  // Each attention output row: the residual, the LayerNorm before (stable)
  // or after (post-LN) the feed-forward, and its input quantized.
  auto feed_forward_input = [&](int64_t i, float* row) {
    float* xi = x + i * width;
    const float* ffn_in = stable_ ? normed + i * width : xi;
    if (stable_) {
      final_layer_norm_.add_then_forward_row(xi, row, normed + i * width);
    } else {
      layer_norm_.add_then_forward_row(row, xi, xi);
    }
    linears.ffn_in->quantize_row(ffn_in, input_u8 + i * width, &input_params[i]);
  };
  if (step.share) {
    // The q/k/v input rows are spent: they take this thread's context rows
    // (packed before feed_forward_input overwrites them).
    for_each_row(step.share, frames, [&](int64_t i) {
      linears.out->quantize_row(ws.context.data() + i * width, input_u8 + i * width,
                                &input_params[i]);
    });
    run_linear(step, *linears.out, input_u8, input_params, ws.pong.data(), width,
               feed_forward_input);
  } else {
    linears.out->run(ws.context.data(), frames, width, ws.pong.data(), width, feed_forward_input);
  }
  mark(Stage::kAttentionLinears);
}

namespace {
// Calls fn(segment, first, count) for the rows [first, first + count) of
// [row0, row0 + rows) that lie in each segment (segments in row order).
template <typename Fn>
void for_each_segment_part(std::span<const SegmentAttention> segments, int64_t row0, int64_t rows,
                           const Fn& fn) {
  for (const SegmentAttention& segment : segments) {
    const int64_t first = std::max(row0, segment.rows.first);
    const int64_t last = std::min(row0 + rows, segment.rows.first + segment.rows.padded);
    if (first < last) fn(segment, first, last - first);
  }
}
}  // namespace

void TransformerLayer::attend_row_share(const Int8Step& step) const {
  const int64_t width = heads_ * head_dim_;
  const RowShare& share = *step.share;
  Workspace& ws = step.ws;
  // Each finished block of q, k or v goes straight into the attention's bf16
  // operands: no float q/k/v rows (12 KiB a frame in large) go out to memory
  // and come back for a conversion pass. A block may span two segments.
  auto to_attention = [&](const float* values, int64_t ld, int64_t row0, int64_t rows, int64_t col0,
                          int64_t cols) {
    const int part = col0 >= qkv_proj_.offset(2) ? 2 : col0 >= qkv_proj_.offset(1) ? 1 : 0;
    const int64_t column = col0 - qkv_proj_.offset(static_cast<size_t>(part));
    for_each_segment_part(
        step.bf16, row0, rows, [&](const SegmentAttention& segment, int64_t first, int64_t count) {
          segment.input.write_block(first - segment.rows.first, count, part, column, cols,
                                    values + (first - row0) * ld, ld);
        });
  };
  step.linears.qkv->run_quantized_rows_to_blocks(ws.input_u8.data(), ws.input_params.data(),
                                                 share.first, share.count, to_attention);
  if (share.leader) ws.times.mark(Stage::kAttentionLinears);
  // Every thread's keys and values before any attention; the context of
  // this thread's rows is all out_proj needs after it.
  for_each_segment_part(step.bf16, share.first, share.count,
                        [](const SegmentAttention& segment, int64_t first, int64_t count) {
                          segment.input.prepare_keys(first - segment.rows.first, count);
                        });
#pragma omp barrier
  for_each_segment_part(step.bf16, share.first, share.count,
                        [&](const SegmentAttention& segment, int64_t first, int64_t count) {
                          segment.input.attend_rows(first - segment.rows.first, count,
                                                    segment.rows.frames, attention_scale(),
                                                    ws.context.data() + segment.rows.first * width,
                                                    width);
                        });
}

void TransformerLayer::int8_feed_forward_block(const Int8Step& step,
                                               const TransformerLayer* next) const {
  const int64_t width = heads_ * head_dim_, inner = intermediate_dense_.out_features();
  const Int8Linears& linears = step.linears;
  Workspace& ws = step.ws;
  float* x = step.x;
  float* normed = ws.ping.data();
  uint8_t* input_u8 = ws.input_u8.data();
  quant::QuantParams* input_params = ws.input_params.data();
  uint8_t* inner_u8 = ws.inner_u8.data();
  quant::QuantParams* inner_params = ws.inner_params.data();
  const kernels::DynamicInt8Linear* next_qkv =
      next ? next->qkv_proj_.per_row_dynamic_int8() : nullptr;
  auto inner_rows = [&](int64_t i, float* row) {
    linears.ffn_out->quantize_row(row, inner_u8 + i * inner, &inner_params[i]);
  };
  run_linear(step, *linears.ffn_in, input_u8, input_params, ws.ffn.data(), inner, inner_rows);
  auto residual = [&](int64_t i, float* row) {
    float* xi = x + i * width;
    if (stable_) {
#pragma omp simd
      for (int64_t c = 0; c < width; ++c) xi[c] += row[c];
    } else {
      final_layer_norm_.add_then_forward_row(row, xi, xi);
    }
    if (!next) return;
    // The next layer's q/k/v input, in the buffers FFN1 has consumed by now.
    const float* next_input = xi;
    if (next->stable_) {
      next->layer_norm_.forward_row(xi, normed + i * width);
      next_input = normed + i * width;
    }
    next_qkv->quantize_row(next_input, input_u8 + i * width, &input_params[i]);
  };
  run_linear(step, *linears.ffn_out, inner_u8, inner_params, ws.pong.data(), width, residual);
  if (!step.share || step.share->leader) ws.times.mark(Stage::kFeedForward);
}

Wav2Vec2Encoder::Wav2Vec2Encoder(const BuildContext& ctx, const Wav2Vec2Config& config)
    : config_(config),
      conv_layers_([&] {
        std::vector<ConvLayer> layers;
        for (size_t i = 0; i < config.conv_dim.size(); ++i)
          layers.emplace_back(ctx, config, static_cast<int>(i));
        return layers;
      }()),
      projection_norm_(config.feat_proj_layer_norm
                           ? std::make_unique<LayerNorm>(ctx, "feature_projection.layer_norm",
                                                         config.conv_dim.back(),
                                                         config.layer_norm_eps)
                           : nullptr),
      projection_(std::make_unique<Linear>(ctx, "feature_projection.projection",
                                           config.conv_dim.back(), config.hidden_size, true)),
      positional_conv_(ctx, config),
      encoder_norm_(std::make_unique<LayerNorm>(ctx, "encoder.layer_norm", config.hidden_size,
                                                config.layer_norm_eps)) {
  for (int64_t l = 0; l < config.num_hidden_layers; ++l)
    layers_.emplace_back(ctx, config, static_cast<int>(l));
}

void Wav2Vec2Encoder::set_attention_precision(kernels::AttentionPrecision precision) {
  attention_precision_ = precision;
  for (TransformerLayer& layer : layers_) layer.set_attention_precision(precision);
}

const Tensor& Wav2Vec2Encoder::run_conv_layers(const float* x, int64_t t_in, Tensor* frames[2],
                                               std::vector<uint8_t> u8[2]) const {
  const size_t layers = conv_layers_.size();
  const uint8_t* x_u8 = nullptr;
  for (size_t i = 0; i < layers; ++i) {
    const ConvLayer& layer = conv_layers_[i];
    // Between static int8 convs the frames go as u8: each layer's epilogue
    // quantizes its output for the next, with no float pass in between.
    const kernels::StaticInt8Conv1d* consumer =
        i + 1 < layers ? conv_layers_[i + 1].quantized_input() : nullptr;
    uint8_t* next_u8 =
        consumer ? grow(u8[i % 2], layer.output_frames(t_in) * layer.out_channels()) : nullptr;
    Tensor& y = *frames[(layers - 1 - i) % 2];
    layer.forward(x, t_in, x_u8, y, consumer, next_u8);
    x = y.data();
    t_in = y.dim(0);
    x_u8 = next_u8;
  }
  return *frames[0];
}

void Wav2Vec2Encoder::extract_features(const float* wav, int64_t samples, Workspace& ws,
                                       Tensor& out) const {
  if (extract_features_in_chunks(wav, samples, ws, out)) return;
  Tensor* frames[2] = {&out, &ws.pong};
  run_conv_layers(wav, samples, frames, ws.conv_u8);
}

int64_t Wav2Vec2Encoder::extractor_chunk_frames() const {
  const char* setting = std::getenv("QUASR_EXTRACTOR_CHUNKS");
  if ((setting && std::string(setting) == "0") || conv_layers_.empty()) return 0;
  for (const ConvLayer& layer : conv_layers_)
    if (!layer.runs_in_chunks()) return 0;
  return setting ? std::max(1, std::atoi(setting)) : kExtractorChunkFrames;
}

// Run whole, each layer's output frames (u8, 512 channels at 3200 frames/s
// for the first) went out to memory and came back for the next layer: for a
// 10 s clip 16 MB from the first alone. A chunk of kExtractorChunkFrames
// output frames keeps every layer's frames in L2 (the first layer's ~1 MB),
// at the cost of recomputing the receptive fields' overlap (0.7 %). Each
// frame is computed exactly as in the whole run.
bool Wav2Vec2Encoder::extract_features_in_chunks(const float* wav, int64_t samples, Workspace& ws,
                                                 Tensor& out) const {
  const int64_t chunk_limit = extractor_chunk_frames();
  if (chunk_limit == 0) return false;
  const int64_t frames = config_.frames_for_samples(samples);
  const int64_t channels = conv_layers_.back().out_channels();
  out.resize({frames, channels});
  if (frames == 0) return true;
  const int64_t chunks = (frames + chunk_limit - 1) / chunk_limit;
  const int threads = omp_get_max_threads();
  if (static_cast<int64_t>(ws.extractor_chunks.size()) < threads)
    ws.extractor_chunks.resize(static_cast<size_t>(threads));
  const int64_t step = config_.samples_per_frame();
  // Whole chunks on a fixed grid, the last one short, dealt round-robin: a
  // shorter input then never gives a thread a longer chunk than a longer one
  // did, so once the longest input has run no buffer grows (equal shares
  // handed to whichever thread asked first did: tests/steady_state).
#pragma omp parallel num_threads(threads)
  {
    Workspace::ExtractorChunk& buffers = ws.extractor_chunks[omp_get_thread_num()];
    Tensor* chunk_frames[2] = {&buffers.frames[0], &buffers.frames[1]};
#pragma omp for schedule(static, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t first = c * chunk_limit, count = std::min(chunk_limit, frames - first);
      const Tensor& features = run_conv_layers(
          wav + first * step, config_.samples_for_frames(count), chunk_frames, buffers.u8);
      std::memcpy(out.data() + first * channels, features.data(), sizeof(float) * count * channels);
    }
  }
  return true;
}

int64_t Wav2Vec2Encoder::padded_frames(int64_t frames) {
  return (frames + kFrameBucket - 1) / kFrameBucket * kFrameBucket;
}

int64_t Wav2Vec2Encoder::forward(const float* wav, int64_t samples, Workspace& ws,
                                 Tensor& hidden) const {
  const int64_t frames = embed(wav, samples, ws, hidden);
  if (frames == 0) return 0;
  const Segment whole{0, hidden.dim(0), frames};
  run_layers(hidden, {&whole, 1}, ws);
  return frames;
}

int64_t Wav2Vec2Encoder::embed(const float* wav, int64_t samples, Workspace& ws,
                               Tensor& hidden) const {
  Tensor* current = &ws.ping;
  extract_features(wav, samples, ws, *current);
  ws.times.mark(Stage::kCnn);
  const int64_t frames = current->dim(0);
  if (frames == 0) {
    hidden.resize({0, config_.hidden_size});
    return 0;
  }
  // The transformer runs on frames rounded up to a bucket, the extra rows
  // zeroed (as HF zeroes masked frames) and masked out of attention: valid
  // rows are unchanged, and a few matmul shapes serve every utterance length.
  const int64_t padded = padded_frames(frames);
  const int64_t channels = current->dim(1);
  current->resize_preserving({padded, channels});
  std::fill(current->data() + frames * channels, current->data() + padded * channels, 0.0f);
  if (projection_norm_) projection_norm_->forward(current->data(), padded, current->data());
  hidden.resize({padded, config_.hidden_size});
  projection_->forward(current->data(), padded, hidden.data());
  std::fill(hidden.data() + frames * config_.hidden_size, hidden.data() + hidden.numel(), 0.0f);
  ws.times.mark(Stage::kProjection);
  positional_conv_.add_to(hidden, ws);
  ws.times.mark(Stage::kPosConv);
  if (!config_.do_stable_layer_norm) encoder_norm_->forward(hidden.data(), padded, hidden.data());
  return frames;
}

void Wav2Vec2Encoder::run_layers(Tensor& hidden, std::span<const Segment> segments,
                                 Workspace& ws) const {
  const int64_t rows = hidden.dim(0);
  ws.input_prepared_for = nullptr;
  if (segments.empty() || segments.front().first != 0 ||
      segments.back().first + segments.back().padded != rows)
    throw Error("internal error: the segments do not cover the transformer's rows");
  if (segments.size() == 1 ? shares_rows(rows) : stacks_share_rows(rows)) {
    forward_layers_in_row_shares(hidden, segments, ws);
  } else {
    for (size_t l = 0; l < layers_.size(); ++l)
      layers_[l].forward(hidden, segments, ws, l + 1 < layers_.size() ? &layers_[l + 1] : nullptr);
  }
  if (config_.do_stable_layer_norm) encoder_norm_->forward(hidden.data(), rows, hidden.data());
  ws.times.mark(Stage::kNormResidual);
}

bool Wav2Vec2Encoder::layers_share_rows() const {
  const char* setting = std::getenv("QUASR_ROW_SHARES");
  if (setting && std::string(setting) == "0") return false;
  if (layers_.empty() || attention_precision_ != kernels::AttentionPrecision::kBf16 ||
      !kernels::bf16_attention_available() ||
      !kernels::Bf16AttentionInput::runs_on_amx(config_.head_dim()))
    return false;
  for (const TransformerLayer& layer : layers_)
    if (!layer.runs_in_row_shares()) return false;
  return true;
}

bool Wav2Vec2Encoder::shares_rows(int64_t padded) const {
  const int threads = omp_get_max_threads();
  return threads >= 2 && stacks_share_rows(padded);
}

bool Wav2Vec2Encoder::stacks_share_rows(int64_t rows) const {
  return rows >= kernels::int8_detail::kRowsPerThreadForRowSplit * omp_get_max_threads() &&
         layers_share_rows();
}

void Wav2Vec2Encoder::forward_layers_in_row_shares(Tensor& hidden,
                                                   std::span<const Segment> segments,
                                                   Workspace& ws) const {
  const int64_t rows = hidden.dim(0);
  const int threads = omp_get_max_threads();
  // Two bf16 attention inputs a segment, one for even layers and one for
  // odd: with no barrier after attention, a thread may write the next layer's
  // q/k/v while another still reads this layer's keys (never two layers on:
  // each layer's barrier waits for every thread).
  const int64_t heads = config_.num_attention_heads, head_dim = config_.head_dim();
  for (int parity = 0; parity < 2; ++parity)
    lay_out_attention(segments, heads, head_dim, ws.segment_scratch, parity,
                      ws.segment_attention[parity]);
  layers_.front().prepare_int8_workspace(rows, ws);
  // Under a passive wait policy each fork, join or barrier costs a sleeping
  // thread's wake-up: the kernels' own parallel regions cost ~13 per layer,
  // this region one barrier per layer (all keys and values before attention).
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const kernels::int8_detail::RowRange share_rows =
        kernels::int8_detail::thread_rows(rows, t, omp_get_num_threads());
    const RowShare share{share_rows.first, share_rows.count, t == 0};
    for (size_t l = 0; l < layers_.size(); ++l)
      layers_[l].forward_row_share(share, hidden, ws.segment_attention[l % 2], ws, l > 0,
                                   l + 1 < layers_.size() ? &layers_[l + 1] : nullptr);
  }
}

}  // namespace quasr::model
