#include "quantize/quantizer.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "core/error.h"
#include "model/quantized_backends.h"
#include "quant/observers.h"
#include "quant/quant_math.h"

namespace quasr::quantize {

namespace {

using model::Leaf;

// Accumulates signal and error power of a quantized leaf against its fp32 self.
struct SqnrStats {
  double signal = 0.0;
  double noise = 0.0;
  double db() const { return noise > 0.0 ? 10.0 * std::log10(signal / noise) : 200.0; }
};

void accumulate_sqnr(const float* reference, const float* candidate, int64_t count,
                     SqnrStats* stats) {
  for (int64_t i = 0; i < count; ++i) {
    double d = double(reference[i]) - candidate[i];
    stats->signal += double(reference[i]) * reference[i];
    stats->noise += d * d;
  }
}

// Runs an int8 backend and, beside it, its fp32 twin on the same input, adding
// their output difference to the leaf's SQNR. Backend is LinearBackend or
// Conv1dBackend; output_count maps the call's size (rows / t_in) to floats out.
template <typename Backend>
class ComparingBackend : public Backend {
 public:
  ComparingBackend(std::unique_ptr<Backend> fp32, std::unique_ptr<Backend> int8,
                   std::function<int64_t(int64_t)> output_count, SqnrStats* stats)
      : int8_(std::move(int8)),
        fp32_(std::move(fp32)),
        output_count_(std::move(output_count)),
        stats_(stats) {}
  using Backend::run;
  void run(const float* x, int64_t size, float* y) const override {
    int8_->run(x, size, y);
    const int64_t count = output_count_(size);
    reference_.resize(static_cast<size_t>(count));
    fp32_->run(x, size, reference_.data());
    accumulate_sqnr(reference_.data(), y, count, stats_);
  }
  std::unique_ptr<Backend> int8_;

 private:
  std::unique_ptr<Backend> fp32_;
  std::function<int64_t(int64_t)> output_count_;
  SqnrStats* stats_;
  mutable std::vector<float> reference_;
};

struct PlannedLeaf {
  LeafPlan plan;
  std::unique_ptr<quant::Observer> observer;  // static leaves
  SqnrStats sqnr;
};

model::QuantizedLeaf quantize_leaf_weights(const Leaf& leaf, const RuleOptions& options) {
  if (leaf.source_weight().empty())
    throw Error(leaf.name() + ": fp32 weights are not available (load with keep_source_weights)");
  model::QuantizedLeaf q;
  q.shape = leaf.weight_shape();
  const int64_t rows = q.shape[0];
  const int64_t cols = shape_numel(q.shape) / rows;
  const float* weight = leaf.source_weight().data();
  quant::QuantizedMatrix matrix = options.per_channel_weights
                                      ? quant::quantize_weights_per_channel(weight, rows, cols)
                                      : quant::quantize_weights_per_tensor(weight, rows, cols);
  q.data = std::move(matrix.data);
  q.scales = std::move(matrix.scales);
  return q;
}

void calibrate(model::AsrModel& model, std::vector<PlannedLeaf>& planned,
               const std::vector<std::vector<float>>& audio, std::vector<Tensor>* reference,
               const Progress& progress) {
  for (PlannedLeaf& p : planned) {
    if (p.plan.scheme != Scheme::kStatic) continue;
    quant::ObserverOptions observer_options;
    observer_options.percentile = p.plan.options.percentile;
    p.observer = quant::make_observer(p.plan.options.observer, observer_options);
    quant::Observer* observer = p.observer.get();
    p.plan.leaf->set_input_observer(
        [observer](const float* x, int64_t count) { observer->observe(x, count); });
  }
  model::Workspace ws;
  reference->resize(audio.size());
  for (size_t i = 0; i < audio.size(); ++i) {
    model.log_probs(audio[i].data(), static_cast<int64_t>(audio[i].size()), ws, (*reference)[i]);
    if (progress) progress("calibrating (fp32 pass)", i + 1, audio.size());
  }
  for (PlannedLeaf& p : planned) p.plan.leaf->set_input_observer({});
}

void install_int8_backend(Leaf* leaf, const model::QuantizedLeaf& q,
                          const model::QuantizedWeights& weights, SqnrStats* sqnr);

// Swaps each planned leaf to int8, wrapped so the next pass measures SQNR.
std::map<std::string, model::QuantizedLeaf> convert(std::vector<PlannedLeaf>& planned) {
  std::map<std::string, model::QuantizedLeaf> leaves;
  for (PlannedLeaf& p : planned) {
    if (p.plan.scheme == Scheme::kFp32) continue;
    Leaf* leaf = p.plan.leaf;
    model::QuantizedLeaf q = quantize_leaf_weights(*leaf, p.plan.options);
    q.spec.scheme = scheme_name(p.plan.scheme);
    q.spec.per_channel_weights = p.plan.options.per_channel_weights;
    q.spec.per_row_activations = p.plan.options.per_row_activations;
    if (p.plan.scheme == Scheme::kStatic) {
      auto [lo, hi] = p.observer->range();
      quant::QuantParams params = quant::choose_asymmetric(lo, hi, quant::u8_range(false));
      q.spec.input_scale = params.scale;
      q.spec.input_zero_point = params.zero_point;
    }
    model::QuantizedWeights weights{q.data.data(), q.shape, q.scales};
    try {
      install_int8_backend(leaf, q, weights, &p.sqnr);
    } catch (const dnnl::error& e) {
      throw Error("module " + leaf->name() +
                  ": no int8 kernel for this shape on this CPU (oneDNN: " + e.what() +
                  "); keep it fp32 with --keep-fp32");
    }
    leaves.emplace(leaf->name(), std::move(q));
  }
  return leaves;
}

void install_int8_backend(Leaf* leaf, const model::QuantizedLeaf& q,
                          const model::QuantizedWeights& weights, SqnrStats* sqnr) {
  const float* bias = leaf->source_bias().empty() ? nullptr : leaf->source_bias().data();
  if (auto* linear = dynamic_cast<model::LinearLeaf*>(leaf)) {
    auto int8 = model::make_quantized_linear(q.spec, weights, bias, leaf->activation());
    auto fp32 = linear->take_backend();
    const int64_t out = linear->out_features();
    linear->set_backend(
        std::make_unique<ComparingBackend<model::LinearBackend>>(
            std::move(fp32), std::move(int8), [out](int64_t rows) { return rows * out; }, sqnr),
        q.spec.scheme);
  } else if (auto* conv = dynamic_cast<model::Conv1dLeaf*>(leaf)) {
    auto int8 =
        model::make_quantized_conv(q.spec, conv->shape(), weights, bias, leaf->activation());
    // oneDNN picks (or fails to find) its kernel on first use: probe it now,
    // so an unsupported shape is reported for this module, before any output.
    const kernels::Conv1dShape& shape = conv->shape();
    int64_t probe_frames = shape.kernel + 8 * shape.stride;
    std::vector<float> probe_in(probe_frames * shape.in_channels, 0.0f);
    std::vector<float> probe_out(shape.output_length(probe_frames) * shape.out_channels);
    int8->run(probe_in.data(), probe_frames, probe_out.data());
    auto fp32 = conv->take_backend();
    conv->set_backend(
        std::make_unique<ComparingBackend<model::Conv1dBackend>>(
            std::move(fp32), std::move(int8),
            [shape](int64_t t_in) { return shape.output_length(t_in) * shape.out_channels; }, sqnr),
        q.spec.scheme);
  }
}

// Drops the fp32 twins: the model keeps only its int8 backends.
void unwrap(std::vector<PlannedLeaf>& planned) {
  for (PlannedLeaf& p : planned) {
    if (p.plan.scheme == Scheme::kFp32) continue;
    if (auto* linear = dynamic_cast<model::LinearLeaf*>(p.plan.leaf)) {
      auto backend = linear->take_backend();
      auto* comparing = static_cast<ComparingBackend<model::LinearBackend>*>(backend.get());
      linear->set_backend(std::move(comparing->int8_), scheme_name(p.plan.scheme));
    } else if (auto* conv = dynamic_cast<model::Conv1dLeaf*>(p.plan.leaf)) {
      auto backend = conv->take_backend();
      auto* comparing = static_cast<ComparingBackend<model::Conv1dBackend>*>(backend.get());
      conv->set_backend(std::move(comparing->int8_), scheme_name(p.plan.scheme));
    }
  }
}

nlohmann::json quality_json(const ModelQuality& quality) {
  nlohmann::json modules = nlohmann::json::array();
  for (const ModuleQuality& m : quality.modules)
    modules.push_back({{"name", m.name}, {"scheme", m.scheme}, {"sqnr_db", m.sqnr_db}});
  return {{"max_abs_logprob_diff", quality.max_abs_logprob_diff},
          {"mean_kl_fp32_int8", quality.mean_kl},
          {"argmax_agreement", quality.argmax_agreement},
          {"frames", quality.frames},
          {"modules", modules}};
}

}  // namespace

void accumulate_logprob_agreement(const Tensor& reference, const Tensor& candidate,
                                  ModelQuality* quality, double* kl_sum, int64_t* agree) {
  const int64_t frames = std::min(reference.dim(0), candidate.dim(0));
  const int64_t vocab = reference.dim(1);
  for (int64_t t = 0; t < frames; ++t) {
    const float* p = reference.data() + t * vocab;
    const float* q = candidate.data() + t * vocab;
    double kl = 0.0;
    for (int64_t v = 0; v < vocab; ++v) {
      quality->max_abs_logprob_diff =
          std::max(quality->max_abs_logprob_diff, std::abs(double(p[v]) - q[v]));
      kl += std::exp(double(p[v])) * (double(p[v]) - q[v]);
    }
    *kl_sum += kl;
    *agree += std::max_element(p, p + vocab) - p == std::max_element(q, q + vocab) - q;
  }
  quality->frames += frames;
}

QuantizeResult quantize_model(model::AsrModel& model, const Recipe& recipe,
                              const std::vector<std::vector<float>>& calibration,
                              const Progress& progress) {
  std::vector<PlannedLeaf> planned;
  bool needs_calibration = false;
  for (LeafPlan& plan : resolve_recipe(recipe, model)) {
    needs_calibration |= plan.scheme == Scheme::kStatic;
    planned.push_back(PlannedLeaf{plan, nullptr, {}});
  }
  if (needs_calibration && calibration.empty())
    throw Error("static quantization needs calibration audio (--calib DATA)");
  std::vector<Tensor> reference;
  calibrate(model, planned, calibration, &reference, progress);
  QuantizeResult result;
  result.leaves = convert(planned);
  // From here the model runs as its saved folder will (load_model's default
  // for quantized folders), and is measured so.
  model.set_attention_precision(kernels::AttentionPrecision::kBf16);
  model::Workspace ws;
  double kl_sum = 0.0;
  int64_t agree = 0;
  for (size_t i = 0; i < calibration.size(); ++i) {
    Tensor log_probs;
    model.log_probs(calibration[i].data(), static_cast<int64_t>(calibration[i].size()), ws,
                    log_probs);
    accumulate_logprob_agreement(reference[i], log_probs, &result.quality, &kl_sum, &agree);
    if (progress) progress("measuring (int8 pass)", i + 1, calibration.size());
  }
  unwrap(planned);
  ModelQuality& quality = result.quality;
  if (quality.frames > 0) {
    quality.mean_kl = kl_sum / double(quality.frames);
    quality.argmax_agreement = double(agree) / double(quality.frames);
  }
  nlohmann::json modules = nlohmann::json::object();
  for (PlannedLeaf& p : planned) {
    if (p.plan.scheme == Scheme::kFp32) continue;
    const std::string& name = p.plan.leaf->name();
    quality.modules.push_back({name, scheme_name(p.plan.scheme), p.sqnr.db()});
    modules[name] = model::leaf_spec_to_json(result.leaves.at(name).spec);
    model.set_module_scheme(name, scheme_name(p.plan.scheme));
  }
  result.quantization = {{"recipe", recipe_to_json(recipe)},
                         {"modules", modules},
                         {"calibration_utterances", calibration.size()},
                         {"report", quality_json(quality)}};
  return result;
}

std::string quality_report_text(const ModelQuality& quality) {
  std::ostringstream out;
  out << "per-module SQNR (output of the int8 module vs fp32, same input):\n";
  for (const ModuleQuality& m : quality.modules) {
    char line[256];
    std::snprintf(line, sizeof(line), "  %-70s %-13s %7.2f dB\n", m.name.c_str(), m.scheme.c_str(),
                  m.sqnr_db);
    out << line;
  }
  char summary[256];
  std::snprintf(summary, sizeof(summary),
                "whole model over %lld frames: max |d log-prob| %.4g, mean KL(fp32||int8) %.4g "
                "nats/frame, argmax agreement %.2f%%\n",
                static_cast<long long>(quality.frames), quality.max_abs_logprob_diff,
                quality.mean_kl, 100.0 * quality.argmax_agreement);
  out << summary;
  return out.str();
}

}  // namespace quasr::quantize
