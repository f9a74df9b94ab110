// Scale layouts (spec/quant.md "Scale layouts"): where scale (m, g) of an [M, G] scale matrix is
// stored. Each layout is a pure index map plus a storage element type; pack/unpack go through
// it, and tests prove every map a bijection onto its non-padding slots.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ulpgate::quant {

enum class Layout : uint8_t {
  row,               // fp32 [M, G], strides (G, 1)
  col,               // fp32 [M, G], strides (1, M): physically [G][M]
  col_tma,           // fp32 [M, G], strides (1, align(M, 4)); padding rows written as 1.0
  ue8m0_packed,      // int32 [M, ceil(G/4)], strides (1, align(M, 4)); byte j of word = group 4p+j
  aiter_tview,       // fp32 [M, G]-shaped contiguous buffer holding [G][M]
  token,             // fp32 [M, 1]
  mx_swizzle_128x4,  // ue8m0 bytes in 512-byte atoms; rows padded to 128, K-blocks to 4
  mx_row,            // ue8m0 bytes [M, G] row-major (the MX `row` byte layout)
};

std::string_view layout_name(Layout l);
Layout parse_layout(std::string_view name);  // throws UsageError naming the choices
std::string layout_names();
bool is_ue8m0_layout(Layout l);     // stores ue8m0 bytes (packed or plain), not fp32
int slot_bytes(Layout l);           // bytes per addressable slot: 4 (fp32/int32 word) or 1

struct ScaleShape {
  int64_t m, g;  // rows (tokens / MX rows) and groups per row
};

// Number of bytes of storage the layout needs for an [M, G] scale matrix.
int64_t storage_bytes(Layout l, ScaleShape s);
// Byte offset of scale (m, g). For ue8m0_packed this is the byte inside its int32 word.
int64_t byte_offset(Layout l, ScaleShape s, int64_t m, int64_t g);
// Inverse map: which scale a byte offset holds, or nullopt for padding / unused bytes.
std::optional<std::pair<int64_t, int64_t>> scale_at(Layout l, ScaleShape s, int64_t byte);

// Writes scales [M*G] (row-major, fp32 values; ue8m0 layouts take their ue8m0 codes from the
// values, which must be powers of two) into fresh storage with the layout's padding values.
std::vector<uint8_t> pack(Layout l, ScaleShape s, std::span<const float> scales);
// Reads the [M*G] scales back as fp32 values (ue8m0 bytes decode to 2^(c-127)).
std::vector<float> unpack(Layout l, ScaleShape s, std::span<const uint8_t> storage);
// The value a padding byte must hold (1.0f's bytes for col-tma, 0 for packed words).
uint8_t padding_byte(Layout l, ScaleShape s, int64_t byte);
// Whether every padding byte of `storage` holds what padding_byte says.
bool padding_as_defined(Layout l, ScaleShape s, std::span<const uint8_t> storage);

// The scales of rows [row0, row1) of an [M, G] storage as the layout stores an [row1 - row0, G]
// scale matrix, with its padding values: what a kernel run on those rows alone would have written
// where it writes what the whole storage holds (a judge that takes a case a slab of rows at a time).
std::vector<uint8_t> storage_rows(Layout l, ScaleShape s, std::span<const uint8_t> storage, int64_t row0, int64_t row1);

}  // namespace ulpgate::quant
