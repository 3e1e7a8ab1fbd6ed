#include "kernels/int8/grouped_int8_conv.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/group_major.h"

namespace quasr::kernels::int8_detail {

namespace {
// Output frames per GEMM: one primitive shape for every length (oneDNN
// JIT-compiles per shape), as many as keep the im2col block within 512 KiB
// (L2): 64 for wav2vec2 large's positional conv (8192-byte windows), 256 for
// the extractor's 3 x 512 windows.
int64_t frame_block(int64_t window) {
  constexpr int64_t kBlockBytes = 1 << 19;
  int64_t frames = 256;
  while (frames > 16 && frames * window > kBlockBytes) frames /= 2;
  return frames;
}

struct BlockBuffers {
  std::vector<uint8_t> window;
  std::vector<int32_t> out;
  std::vector<float> rows;  // the block's output frames when the caller keeps none
};

BlockBuffers& thread_buffers() {
  thread_local BlockBuffers buffers;
  return buffers;
}
}  // namespace

GroupedInt8Conv::GroupedInt8Conv(const Conv1dShape& shape, const int8_t* weight) : shape_(shape) {
  const Conv1dShape& s = shape_;
  if (s.padding != 0) throw Error("GroupedInt8Conv: callers pad the input (padding must be 0)");
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  window_ = cig * s.kernel;
  frame_block_ = frame_block(window_);
  std::vector<int8_t> rows(static_cast<size_t>(cog * window_));
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t o = 0; o < cog; ++o) {
      const int8_t* w = weight + (g * cog + o) * window_;  // [cig, kernel]
      int8_t* row = rows.data() + o * window_;             // [kernel, cig]
      for (int64_t i = 0; i < cig; ++i)
        for (int64_t k = 0; k < s.kernel; ++k) row[k * cig + i] = w[i * s.kernel + k];
    }
    if (s.groups == 1 && cog % kAccBlock == 0) {
      block_ = make_block_int8_matmul(rows.data(), cog, window_, isa_level());
      if (block_) return;
    }
    if (s.groups > 1 && s.stride == 1 && cig % 64 == 0 && cog % kAmxBlock == 0 &&
        AmxInt8Matmul::available()) {
      amx_groups_.push_back(std::make_unique<AmxInt8Matmul>(rows.data(), cog, window_));
      continue;
    }
    groups_.push_back(std::make_unique<PackedInt8Matmul>(
        rows.data(), cog, window_, dnnl::memory::data_type::s32, dnnl::primitive_attr(), nullptr));
  }
}

std::string GroupedInt8Conv::implementation() const {
  if (block_) return block_->name() + " (overlapping rows)";
  if (!amx_groups_.empty()) return "quasr:amx_int8 (group-major overlapping rows)";
  return "im2col+" + groups_.front()->implementation(frame_block_);
}

void GroupedInt8Conv::run_block(const uint8_t* q, int64_t group, int64_t first, int64_t frames,
                                const EpilogueRow& epilogue, IsaLevel isa, float* y_block,
                                RowSink row_done) const {
  if (block_) return run_block_in_place(q, first, frames, epilogue, isa, y_block, row_done);
  const Conv1dShape& s = shape_;
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  BlockBuffers& buffers = thread_buffers();
  uint8_t* window = grow(buffers.window, frame_block_ * window_);
  int32_t* out = grow(buffers.out, frame_block_ * cog);
  for (int64_t t = 0; t < frames; ++t) {
    const uint8_t* source = q + (first + t) * s.stride * s.in_channels + group * cig;
    uint8_t* row = window + t * window_;
    for (int64_t k = 0; k < s.kernel; ++k)
      std::memcpy(row + k * cig, source + k * s.in_channels, static_cast<size_t>(cig));
  }
  // A short last block still runs the full-size GEMM; its extra rows are
  // whatever the buffer held and are not copied out.
  groups_[static_cast<size_t>(group)]->run(window, frame_block_, window_, out, cog);
  const EpilogueRow channels = epilogue.from_column(group * cog);
  for (int64_t t = 0; t < frames; ++t) {
    float* row = y_block + t * s.out_channels + group * cog;
    std::memcpy(row, out + t * cog, sizeof(int32_t) * static_cast<size_t>(cog));
    dequantize_row_in_place(row, cog, channels, isa);
    if (row_done) row_done(first + t, row);
  }
}

// One group: the block's windows are rows of q (stride * c_in apart), and
// each 32 x 32 block of sums is dequantized as the kernel hands it over.
void GroupedInt8Conv::run_block_in_place(const uint8_t* q, int64_t first, int64_t frames,
                                         const EpilogueRow& epilogue, IsaLevel isa, float* y_block,
                                         RowSink row_done) const {
  const int64_t c_out = shape_.out_channels, row_stride = shape_.stride * shape_.in_channels;
  const quant::QuantParams input{epilogue.x_scale, epilogue.x_zero_point};
  auto dequantize = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
    dequantize_block(acc, rows, kAccBlock, &input, 0, epilogue.from_column(col0),
                     y_block + row0 * c_out + col0, c_out, isa);
  };
  block_->run_rows_on_this_thread(q + first * row_stride, frames, row_stride, 0, dequantize);
  if (row_done)
    for (int64_t t = 0; t < frames; ++t) row_done(first + t, y_block + t * c_out);
}

void GroupedInt8Conv::run(const uint8_t* q, int64_t t_in, const EpilogueRow& epilogue, IsaLevel isa,
                          float* y, RowSink row_done) const {
  const int64_t t_out = shape_.output_length(t_in);
  if (t_out <= 0) return;
  if (row_done && shape_.groups != 1)
    throw Error("GroupedInt8Conv: row_done needs one group (rows are split between groups)");
  if (!y && !row_done) throw Error("GroupedInt8Conv: no output and no row_done");
  const int64_t c_out = shape_.out_channels;
  if (!amx_groups_.empty()) return run_amx_groups(q, t_in, epilogue, isa, y);
  const int64_t blocks = (t_out + frame_block_ - 1) / frame_block_;
  const int64_t tasks = blocks * shape_.groups;
  // One task per (block, group), each a single-threaded GEMM (oneDNN runs
  // sequentially inside a parallel region). Round-robin, not dynamic: task i
  // always lands on the same thread, so a shorter input never hands a task to
  // a thread whose buffers (im2col block, oneDNN scratchpad) were never sized.
#pragma omp parallel for schedule(static, 1)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t block = task / shape_.groups, group = task % shape_.groups;
    const int64_t first = block * frame_block_;
    // Without y the block's frames live in this thread's buffer (in cache)
    // until row_done has taken them: no frame goes out to memory.
    float* y_block = y ? y + first * c_out : grow(thread_buffers().rows, frame_block_ * c_out);
    run_block(q, group, first, std::min(frame_block_, t_out - first), epilogue, isa, y_block,
              row_done);
  }
}

// Stride 1 and whole 64-channel steps per group: with the input group-major
// (group g's channels of every frame together), frame t's window is
// cig * kernel contiguous bytes from row t of group g, so each group is one
// AMX product over overlapping rows cig bytes apart, loaded straight from
// the copy (no im2col, no packing). Groups are split between the threads.
void GroupedInt8Conv::run_amx_groups(const uint8_t* q, int64_t t_in, const EpilogueRow& epilogue,
                                     IsaLevel isa, float* y) const {
  const Conv1dShape& s = shape_;
  const int64_t cig = s.in_channels / s.groups, cog = s.out_channels / s.groups;
  const int64_t t_out = s.output_length(t_in);
  // A last 32-row block reads up to 31 rows past the windows.
  const int64_t group_rows = t_in + kAmxBlock;
  thread_local std::vector<uint8_t> by_group;
  uint8_t* grouped = grow(by_group, s.groups * group_rows * cig);
  const quant::QuantParams input{epilogue.x_scale, epilogue.x_zero_point};
#pragma omp parallel
  {
    copy_group_major(q, t_in, s.groups, cig, 0, group_rows, grouped);
#pragma omp for schedule(static)
    for (int64_t g = 0; g < s.groups; ++g) {
      auto dequantize = [&](const int32_t* acc, int64_t row0, int64_t rows, int64_t col0) {
        const int64_t column = g * cog + col0;
        dequantize_block(acc, rows, kAmxBlock, &input, 0, epilogue.from_column(column),
                         y + row0 * s.out_channels + column, s.out_channels, isa);
      };
      amx_groups_[static_cast<size_t>(g)]->run_direct_rows_on_this_thread(
          grouped + g * group_rows * cig, t_out, cig, dequantize);
    }
  }
}

}  // namespace quasr::kernels::int8_detail
