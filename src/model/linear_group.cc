#include "model/linear_group.h"

#include <algorithm>
#include <cstring>

#include "model/quantized_backends.h"

namespace quasr::model {

struct LinearGroup::Fused {
  std::unique_ptr<LinearBackend> backend;  // null until built (deferred when quantized)
  int64_t total_out = 0;
};

namespace {

// A member's backend while its group is fused: the group's matmul, keeping
// this member's columns. Only for running the member alone; the group's own
// forward() writes all members at once.
class FusedSlice : public LinearBackend {
 public:
  FusedSlice(std::shared_ptr<const LinearGroup::Fused> fused, int64_t offset, int64_t width)
      : fused_(std::move(fused)), offset_(offset), width_(width) {}
  void run(const float* x, int64_t rows, float* y) const override {
    run(x, rows, y, width_, width_);
  }
  void run(const float* x, int64_t rows, float* y, int64_t y_stride, int64_t) const override {
    const int64_t total = fused_->total_out;
    thread_local std::vector<float> all;
    all.resize(static_cast<size_t>(rows * total));
    fused_->backend->run(x, rows, all.data());
    for (int64_t i = 0; i < rows; ++i)
      std::copy_n(all.data() + i * total + offset_, width_, y + i * y_stride);
  }
  const LinearGroup::Fused* fused() const { return fused_.get(); }

 private:
  std::shared_ptr<const LinearGroup::Fused> fused_;
  int64_t offset_;
  int64_t width_;
};

bool one_scheme(const std::vector<LinearSource>& sources) {
  for (const LinearSource& source : sources) {
    if ((source.spec == nullptr) != (sources[0].spec == nullptr)) return false;
    if (source.spec && !(*source.spec == *sources[0].spec)) return false;
    if (source.bias.empty()) return false;
  }
  return true;
}

std::vector<float> concatenated(const std::vector<LinearSource>& sources,
                                const std::vector<float> LinearSource::*member) {
  std::vector<float> all;
  for (const LinearSource& source : sources)
    all.insert(all.end(), (source.*member).begin(), (source.*member).end());
  return all;
}

// The members' int8 rows one after another; scales per row, so members with
// per-tensor weight scales keep theirs.
std::unique_ptr<LinearBackend> fused_int8_backend(const std::vector<QuantizedWeights>& weights,
                                                  LeafQuantSpec spec,
                                                  const std::vector<float>& bias, int64_t in) {
  std::vector<int8_t> data;
  std::vector<float> scales;
  for (const QuantizedWeights& w : weights) {
    const int64_t rows = w.shape[0];
    data.insert(data.end(), w.data, w.data + rows * in);
    for (int64_t r = 0; r < rows; ++r) scales.push_back(w.scales[w.scales.size() == 1 ? 0 : r]);
  }
  spec.per_channel_weights = true;
  QuantizedWeights all{data.data(), {static_cast<int64_t>(scales.size()), in}, scales};
  return make_quantized_linear(spec, all, bias.data(), kernels::Activation::kNone);
}

}  // namespace

LinearGroup::LinearGroup(const BuildContext& ctx, const std::vector<LinearSpec>& members,
                         int64_t in) {
  std::vector<LinearSource> sources(members.size());
  for (size_t i = 0; i < members.size(); ++i) {
    members_.emplace_back(ctx, members[i].path, in, members[i].out_features, true,
                          kernels::Activation::kNone, &sources[i]);
    offsets_.push_back(total_out_);
    total_out_ += members[i].out_features;
  }
  if (!one_scheme(sources)) {
    for (size_t i = 0; i < members.size(); ++i)
      members_[i].install_backend(ctx, std::move(sources[i]));
    return;
  }
  auto fused = std::make_shared<Fused>();
  fused->total_out = total_out_;
  fused_ = fused;
  std::vector<float> bias = concatenated(sources, &LinearSource::bias);
  // Members get their slices once the fused backend exists.
  auto install_slices = [fused, leaves = leaves(), offsets = offsets_,
                         scheme = sources[0].spec ? sources[0].spec->scheme : "fp32"] {
    for (size_t i = 0; i < leaves.size(); ++i) {
      leaves[i]->set_backend(
          std::make_unique<FusedSlice>(fused, offsets[i], leaves[i]->out_features()), scheme);
    }
  };
  if (sources[0].spec) {
    std::vector<QuantizedWeights> weights;
    for (LinearSource& source : sources) weights.push_back(std::move(source.quantized));
    ctx.defer([fused, weights = std::move(weights), spec = *sources[0].spec, bias = std::move(bias),
               in, install_slices] {
      fused->backend = fused_int8_backend(weights, spec, bias, in);
      install_slices();
    });
    return;
  }
  std::vector<float> weight = concatenated(sources, &LinearSource::weight);
  fused->backend = make_f32_linear(weight.data(), bias.data(), total_out_, in,
                                   kernels::Activation::kNone, ctx.fp32_matmul());
  install_slices();
  if (ctx.keep_source_weights()) {
    for (size_t i = 0; i < members.size(); ++i)
      members_[i].leaf()->set_source(std::move(sources[i].weight), std::move(sources[i].bias));
  }
}

std::vector<LinearLeaf*> LinearGroup::leaves() const {
  std::vector<LinearLeaf*> leaves;
  for (const Linear& member : members_) leaves.push_back(member.leaf());
  return leaves;
}

const LinearGroup::Fused* LinearGroup::live_fused() const {
  // A quantizer may since have given members backends of their own, and
  // calibration observers must see each member's input.
  const std::shared_ptr<Fused> fused = fused_.lock();
  if (!fused || !fused->backend) return nullptr;
  for (const Linear& member : members_) {
    const auto* slice = dynamic_cast<const FusedSlice*>(member.leaf()->backend());
    if (!slice || slice->fused() != fused.get() || member.leaf()->observed()) return nullptr;
  }
  // The members' slices keep it alive.
  return fused.get();
}

bool LinearGroup::fused() const {
  return live_fused() != nullptr;
}

const kernels::DynamicInt8Linear* LinearGroup::per_row_dynamic_int8() const {
  const Fused* fused = live_fused();
  return fused ? fused->backend->per_row_dynamic_int8() : nullptr;
}

void LinearGroup::forward(const float* x, int64_t rows, float* y) const {
  if (const Fused* fused = live_fused()) {
    fused->backend->run(x, rows, y);
    return;
  }
  for (size_t i = 0; i < members_.size(); ++i)
    members_[i].forward(x, rows, y + offsets_[i], total_out_);
}

}  // namespace quasr::model
