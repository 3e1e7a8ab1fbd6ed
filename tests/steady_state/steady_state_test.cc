// The steady-state forward allocates no buffers: after a model has run an
// utterance once, running it again (or a shorter one) reuses the Workspace's
// activations, the kernels' per-thread scratch and the cached oneDNN
// primitives. Counted by replacing the global operator new of this test
// executable, which every library in the process (oneDNN included) calls.
//
// What still allocates, by design of oneDNN 2.x and not ours to remove: each
// primitive execution builds its argument map (std::unordered_map nodes of
// 16-120 bytes, inside dnnl_primitive_execute and the dnnl::memory handles
// wrapping the caller's pointers), and on CPUs without AVX-512 its int8 GEMM
// takes 1-2 KiB of per-call bookkeeping inside the library (seen on AVX2:
// 1024 and 1664 bytes, from dnnl_primitive_execute). Those are not data, so
// the test counts allocations of at least kBufferBytes, and of those made by
// oneDNN's own code only the ones of at least kLibraryBufferBytes: any
// activation, scratch or weight buffer is larger than that.
#include <dlfcn.h>
#include <unistd.h>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <new>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "audio/audio.h"
#include "model/asr_model.h"
#include "model/quasr_folder.h"
#include "quantize/quantizer.h"

namespace {
constexpr std::size_t kBufferBytes = 512;
constexpr std::size_t kLibraryBufferBytes = 4096;
std::atomic<bool> counting{false};
std::atomic<long> buffer_allocations{0};
std::atomic<long> small_allocations{0};

// Whether the code at `address` (an allocation's caller) is oneDNN's.
bool in_onednn(const void* address) {
  Dl_info info;
  return dladdr(address, &info) != 0 && info.dli_fname &&
         std::strstr(info.dli_fname, "libdnnl") != nullptr;
}

void count(std::size_t size, const void* caller) {
  if (!counting.load(std::memory_order_relaxed)) return;
  const bool buffer = size >= kBufferBytes && (size >= kLibraryBufferBytes || !in_onednn(caller));
  (buffer ? buffer_allocations : small_allocations).fetch_add(1);
}
}  // namespace

// Replacing the allocator means pairing malloc with operator delete's free.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) {
  count(size, __builtin_return_address(0));
  void* p = nullptr;
  return posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}

void* operator new(std::size_t size) {
  count(size, __builtin_return_address(0));
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  return operator new(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace quasr {
namespace {
namespace fs = std::filesystem;

std::string fixture(const std::string& relative) {
  return std::string(QUASR_FIXTURE_DIR) + "/" + relative;
}

// Buffer-sized allocations made while `action` runs.
long buffer_allocations_during(const std::function<void()>& action) {
  buffer_allocations = 0;
  small_allocations = 0;
  counting = true;
  action();
  counting = false;
  return buffer_allocations.load();
}

// (fixture variant, recipe): sb_local has a LayerNorm extractor and the
// SpeechBrain head, hf_base_bin a GroupNorm extractor and lm_head.
using Case = std::tuple<std::string, std::string>;
class SteadyStateTest : public ::testing::TestWithParam<Case> {};

TEST_P(SteadyStateTest, RepeatedForwardAllocatesNoBuffers) {
  const auto& [variant, recipe] = GetParam();
  std::vector<std::vector<float>> audio;
  for (int i = 0; i < 2; ++i)
    audio.push_back(load_audio(fixture("parity/" + variant + "/utt" + std::to_string(i) + ".wav")));
  const bool first_longer = audio[0].size() >= audio[1].size();
  const std::vector<float>& longer = first_longer ? audio[0] : audio[1];
  const std::vector<float>& shorter = first_longer ? audio[1] : audio[0];
  ASSERT_LT(shorter.size(), longer.size());

  model::LoadOptions options;
  options.keep_source_weights = recipe != "fp32";
  auto model = model::load_model(fixture("models/" + variant), options);
  if (recipe != "fp32") {
    // As users run it: quantized, saved, loaded back (the loaded model fuses
    // q/k/v and hands int8 rows between linears; the in-process one does not).
    auto result = quantize::quantize_model(*model, quantize::preset_recipe(recipe, *model), audio);
    const fs::path folder = fs::temp_directory_path() / ("quasr-steady-" + variant + "-" + recipe +
                                                         "-" + std::to_string(::getpid()));
    fs::remove_all(folder);
    model::save_quasr_folder(*model, result.leaves, result.quantization, folder.string());
    model = model::load_model(folder.string());
    fs::remove_all(folder);
  }

  model::Workspace ws;
  Tensor log_probs;
  auto run = [&](const std::vector<float>& wav) {
    model->log_probs(wav.data(), static_cast<int64_t>(wav.size()), ws, log_probs);
  };
  // The first run sizes everything for the longest input; a buffer counter
  // that stayed at zero there would mean the counting is broken.
  EXPECT_GT(buffer_allocations_during([&] { run(longer); }), 0);
  run(shorter);
  EXPECT_EQ(buffer_allocations_during([&] { run(longer); }), 0);
  EXPECT_EQ(buffer_allocations_during([&] { run(shorter); }), 0);
  // Utterances run together (AsrModel::group_log_probs) likewise, once a
  // group as long has sized the stack.
  const std::vector<std::vector<float>> group = {longer, shorter, longer};
  std::vector<Tensor> group_log_probs;
  auto run_group = [&] { model->group_log_probs(group, ws, group_log_probs); };
  run_group();
  EXPECT_EQ(buffer_allocations_during(run_group), 0);
  RecordProperty("small_allocations_per_forward", std::to_string(small_allocations.load()));
}

INSTANTIATE_TEST_SUITE_P(Recipes, SteadyStateTest,
                         ::testing::Values(Case{"sb_local", "fp32"}, Case{"sb_local", "tutorial"},
                                           Case{"sb_local", "int8-all"},
                                           Case{"hf_base_bin", "fp32"},
                                           Case{"hf_base_bin", "int8-all"}),
                         [](const auto& info) {
                           std::string name =
                               std::get<0>(info.param) + "_" + std::get<1>(info.param);
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace quasr
