// Every scale layout is a bijection between scales and non-padding slots, before any numeric
// test relies on it (spec/quant.md "Layout transforms are pure permutations").
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>

#include "reference/quant/layout.hpp"

using namespace ulpgate::quant;

namespace {
constexpr Layout kLayouts[] = {Layout::row,         Layout::col,   Layout::col_tma,
                               Layout::ue8m0_packed, Layout::aiter_tview, Layout::mx_swizzle_128x4,
                               Layout::mx_row};
const ScaleShape kShapes[] = {{1, 1}, {3, 5}, {31, 4}, {127, 7}, {130, 9}, {256, 8}, {5, 56}, {0, 3}};
}  // namespace

TEST(Layout, EveryIndexMapsToADistinctSlotAndBack) {
  for (Layout l : kLayouts)
    for (ScaleShape s : kShapes) {
      std::set<int64_t> slots;
      for (int64_t m = 0; m < s.m; ++m)
        for (int64_t g = 0; g < s.g; ++g) {
          const int64_t at = byte_offset(l, s, m, g);
          ASSERT_GE(at, 0);
          ASSERT_LT(at, storage_bytes(l, s)) << layout_name(l);
          ASSERT_TRUE(slots.insert(at / slot_bytes(l) * slot_bytes(l) + (l == Layout::ue8m0_packed ? at % 4 : 0)).second)
              << layout_name(l) << " maps two scales to byte " << at;
          const auto back = scale_at(l, s, at);
          ASSERT_TRUE(back.has_value()) << layout_name(l);
          EXPECT_EQ(back->first, m);
          EXPECT_EQ(back->second, g);
        }
      // Every other byte is padding: scale_at says so.
      int64_t owned = 0;
      for (int64_t b = 0; b < storage_bytes(l, s); ++b) owned += scale_at(l, s, b).has_value();
      EXPECT_EQ(owned, s.m * s.g * (l == Layout::ue8m0_packed ? 1 : slot_bytes(l))) << layout_name(l);
    }
}

TEST(Layout, SpecFormulas) {
  // ue8m0-packed: word (t, p) at strides (1, align(M,4)); byte j = group 4p+j.
  EXPECT_EQ(byte_offset(Layout::ue8m0_packed, {3, 10}, 2, 9), 4 * (2 * 4 + 2) + 1);
  EXPECT_EQ(storage_bytes(Layout::ue8m0_packed, {3, 10}), 4 * 4 * 3);
  // col-tma: strides (1, align(M, 4)).
  EXPECT_EQ(byte_offset(Layout::col_tma, {5, 3}, 1, 2), 4 * (2 * 8 + 1));
  // mx-swizzle-128x4 offset formula of spec/quant.md.
  EXPECT_EQ(byte_offset(Layout::mx_swizzle_128x4, {256, 8}, 161, 6),
            ((161 / 128) * 2 + 6 / 4) * 512 + (161 % 32) * 16 + ((161 % 128) / 32) * 4 + 6 % 4);
}

TEST(Layout, PaddingValuesAndRoundTrip) {
  const ScaleShape s{3, 6};
  std::vector<float> scales(18);
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = std::ldexp(1.0f, int(i) - 9);
  for (Layout l : kLayouts) {
    const auto bytes = pack(l, s, scales);
    EXPECT_EQ(unpack(l, s, bytes), scales) << layout_name(l);
    for (int64_t b = 0; b < storage_bytes(l, s); ++b)
      if (!scale_at(l, s, b)) EXPECT_EQ(bytes[size_t(b)], padding_byte(l, s, b)) << layout_name(l);
  }
  // col-tma padding rows hold 1.0f; packed padding words hold 0.
  const auto tma = pack(Layout::col_tma, s, scales);
  float pad;
  std::memcpy(&pad, &tma[4 * 3], 4);
  EXPECT_EQ(pad, 1.0f);
  const auto packed = pack(Layout::ue8m0_packed, s, scales);
  EXPECT_EQ(packed[4 * 3], 0);  // row 3 is padding
  EXPECT_EQ(packed[4 * (4 + 0) + 2], 0);  // group slot 6 of row 0 is unused
}

// Rows of a storage are the storage a kernel run on those rows alone writes: the rows' scales
// packed as an [rows, G] matrix, every padding byte as that layout defines it.
TEST(Layout, StorageRowsAreTheRowsScalesPackedOnTheirOwn) {
  for (Layout l : kLayouts)
    for (ScaleShape s : kShapes) {
      std::vector<float> scales(size_t(s.m * s.g));
      for (size_t i = 0; i < scales.size(); ++i) scales[i] = std::ldexp(1.0f, int(i % 23) - 11);
      const std::vector<uint8_t> whole = pack(l, s, scales);
      for (auto [row0, row1] : {std::pair<int64_t, int64_t>{0, s.m}, {0, s.m / 2}, {s.m / 3, s.m}, {s.m / 2, s.m / 2},
                                {std::min<int64_t>(1, s.m), std::max<int64_t>(std::min<int64_t>(1, s.m), s.m - 1)}}) {
        const std::span<const float> rows(scales.data() + row0 * s.g, size_t((row1 - row0) * s.g));
        EXPECT_EQ(storage_rows(l, s, whole, row0, row1), pack(l, {row1 - row0, s.g}, rows))
            << layout_name(l) << " " << s.m << "x" << s.g << " rows [" << row0 << ", " << row1 << ")";
      }
    }
  EXPECT_THROW(storage_rows(Layout::row, {3, 2}, std::vector<uint8_t>(24), 2, 4), std::invalid_argument);
  EXPECT_THROW(storage_rows(Layout::row, {3, 2}, std::vector<uint8_t>(20), 0, 3), std::invalid_argument);
}

TEST(Layout, PaddingAsDefinedFindsAPaddingByteChanged) {
  const ScaleShape s{5, 6};
  const std::vector<float> scales(30, 0.5f);
  for (Layout l : kLayouts) {
    std::vector<uint8_t> bytes = pack(l, s, scales);
    EXPECT_TRUE(padding_as_defined(l, s, bytes)) << layout_name(l);
    int64_t pad = 0;
    while (pad < int64_t(bytes.size()) && scale_at(l, s, pad)) ++pad;
    if (pad == int64_t(bytes.size())) continue;  // row, col, aiter-tview, mx-row: no padding here
    bytes[size_t(pad)] ^= 0x40;
    EXPECT_FALSE(padding_as_defined(l, s, bytes)) << layout_name(l) << " byte " << pad;
    bytes[0] ^= 0x40, bytes[size_t(pad)] ^= 0x40;  // scale (0, 0) changed, the padding restored
    EXPECT_TRUE(padding_as_defined(l, s, bytes)) << layout_name(l);
  }
}
