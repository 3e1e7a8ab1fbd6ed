// Linears that read the same input, such as an attention layer's q/k/v
// projections, run as one matmul over their concatenated weights when they
// share a scheme: one activation quantization, one oneDNN call and one pass
// of epilogue per layer instead of three, and a wider N for the GEMM.
//
// Each member stays a leaf of its own (its name, scheme and recipe rules are
// unchanged) and can still be run alone: its backend is then a slice of the
// fused one. Where the members differ (a recipe quantized one of them, or a
// calibration observer watches one), forward() runs them one by one.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/module_tree.h"

namespace quasr::model {

struct LinearSpec {
  std::string path;
  int64_t out_features;
};

class LinearGroup {
 public:
  // Every member maps `in` features (with bias) to its own out_features.
  LinearGroup(const BuildContext& ctx, const std::vector<LinearSpec>& members, int64_t in);

  // y: [rows, out_features()] row-major, member i in columns
  // [offset(i), offset(i) + its out_features).
  void forward(const float* x, int64_t rows, float* y) const;
  int64_t out_features() const { return total_out_; }
  int64_t offset(size_t member) const { return offsets_[member]; }
  // Whether forward() runs the members as one matmul now.
  bool fused() const;
  // The fused kernel when fused() and it is dynamic int8 with per-row
  // activations; else null.
  const kernels::DynamicInt8Linear* per_row_dynamic_int8() const;

  // The fused backend and what each member was given; shared with the
  // members' slice backends and the deferred build of quantized groups.
  struct Fused;

 private:
  // The fused backend while every member still runs a slice of it, else null.
  const Fused* live_fused() const;
  std::vector<LinearLeaf*> leaves() const;
  std::vector<Linear> members_;
  std::vector<int64_t> offsets_;
  int64_t total_out_ = 0;
  // Owned by the members' slice backends (and the deferred build until then):
  // once a quantizer has replaced them all, the fused weights are freed.
  std::weak_ptr<Fused> fused_;
};

}  // namespace quasr::model
