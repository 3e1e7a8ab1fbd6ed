// Packed-weight memory: blocks from the huge-page arena must be aligned,
// disjoint, keep their contents while others come and go, and sit in a
// mapping the kernel may back with 2 MiB pages (VmFlags "hg" in smaps);
// with QUASR_HUGE_PAGES=0 (ctest's small_pages.* run) oneDNN allocates them.
#include "kernels/weight_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace quasr::kernels {
namespace {

dnnl::memory::desc bytes_desc(int64_t bytes) {
  return dnnl::memory::desc({bytes}, dnnl::memory::data_type::s8, dnnl::memory::format_tag::a);
}

uint8_t* data_of(const WeightMemory& w) {
  return static_cast<uint8_t*>(w.get().get_data_handle());
}

void fill(const WeightMemory& w, size_t bytes, uint8_t seed) {
  uint8_t* p = data_of(w);
  for (size_t i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
}

bool holds(const WeightMemory& w, size_t bytes, uint8_t seed) {
  const uint8_t* p = data_of(w);
  for (size_t i = 0; i < bytes; ++i)
    if (p[i] != static_cast<uint8_t>(seed + i * 7)) return false;
  return true;
}

// The VmFlags line of the /proc/self/smaps mapping that contains address.
std::string vm_flags_of(const void* address) {
  const auto at = reinterpret_cast<uintptr_t>(address);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    char dash = 0;
    std::istringstream header(line);
    if (header >> std::hex >> begin >> dash >> end && dash == '-') {
      inside = begin <= at && at < end;
    } else if (inside && line.rfind("VmFlags:", 0) == 0) {
      return line;
    }
  }
  return "";
}

bool huge_pages_requested() {
  const char* value = std::getenv("QUASR_HUGE_PAGES");
  return value == nullptr || std::strcmp(value, "0") != 0;
}

TEST(WeightMemory, BlocksArePageAlignedDisjointAndKeepTheirContents) {
  const std::vector<size_t> sizes = {4 << 20, 1 << 20, 786432, 3 << 20, 100, 4 << 20};
  std::vector<WeightMemory> blocks;
  for (size_t i = 0; i < sizes.size(); ++i) {
    blocks.emplace_back(bytes_desc(static_cast<int64_t>(sizes[i])));
    fill(blocks.back(), sizes[i], static_cast<uint8_t>(i));
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data_of(blocks[i])) % 64, 0u) << i;
    EXPECT_TRUE(holds(blocks[i], sizes[i], static_cast<uint8_t>(i))) << i;
    for (size_t j = i + 1; j < blocks.size(); ++j) {
      const uint8_t *a = data_of(blocks[i]), *b = data_of(blocks[j]);
      EXPECT_TRUE(a + sizes[i] <= b || b + sizes[j] <= a) << i << " overlaps " << j;
    }
  }
}

TEST(WeightMemory, FreeingBlocksLeavesTheOthersIntact) {
  std::vector<WeightMemory> kept, dropped;
  std::vector<uint8_t> kept_seeds;
  for (int i = 0; i < 40; ++i) {  // 160 MiB in 4 MiB blocks: several mappings
    WeightMemory w(bytes_desc(4 << 20));
    fill(w, 4 << 20, static_cast<uint8_t>(i));
    if (i % 3 == 0) {
      dropped.push_back(w);
    } else {
      kept.push_back(w);
      kept_seeds.push_back(static_cast<uint8_t>(i));
    }
  }
  dropped.clear();
  WeightMemory large(bytes_desc(int64_t{80} << 20));  // beyond one mapping
  fill(large, size_t{80} << 20, 200);
  for (size_t i = 0; i < kept.size(); ++i)
    EXPECT_TRUE(holds(kept[i], 4 << 20, kept_seeds[i])) << "block " << i;
  EXPECT_TRUE(holds(large, size_t{80} << 20, 200));
}

TEST(WeightMemory, CopiesShareTheBlock) {
  WeightMemory copy;
  {
    WeightMemory original(bytes_desc(1 << 20));
    fill(original, 1 << 20, 9);
    copy = original;
    EXPECT_EQ(data_of(copy), data_of(original));
  }
  EXPECT_TRUE(holds(copy, 1 << 20, 9));
}

TEST(WeightMemory, HugePageAdviceFollowsTheEnvironment) {
  WeightMemory w(bytes_desc(4 << 20));
  fill(w, 4 << 20, 1);
  const std::string flags = vm_flags_of(data_of(w));
  ASSERT_FALSE(flags.empty()) << "no smaps entry for the block";
  EXPECT_EQ(huge_page_weights(), huge_pages_requested());
  EXPECT_EQ(flags.find(" hg") != std::string::npos, huge_pages_requested()) << flags;
}

}  // namespace
}  // namespace quasr::kernels
