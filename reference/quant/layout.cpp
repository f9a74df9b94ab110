#include "reference/quant/layout.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "reference/formats/formats.hpp"
#include "reference/formats/name_table.hpp"
#include "reference/parallel.hpp"

namespace ulpgate::quant {
namespace {

constexpr NameTable<Layout, 8> kNames{{{
    {Layout::row, "row"},
    {Layout::col, "col"},
    {Layout::col_tma, "col-tma"},
    {Layout::ue8m0_packed, "ue8m0-packed"},
    {Layout::aiter_tview, "aiter-tview"},
    {Layout::token, "token"},
    {Layout::mx_swizzle_128x4, "mx-swizzle-128x4"},
    {Layout::mx_row, "mx-row"},
}}};

constexpr int64_t align(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
constexpr int64_t ceil_div(int64_t x, int64_t a) { return (x + a - 1) / a; }

// mx-swizzle-128x4: offset(r, c) = ((r/128)·ceil(C/4) + c/4)·512 + (r%32)·16 + ((r%128)/32)·4 + c%4
int64_t swizzle_offset(ScaleShape s, int64_t r, int64_t c) {
  return ((r / 128) * ceil_div(s.g, 4) + c / 4) * 512 + (r % 32) * 16 + ((r % 128) / 32) * 4 + c % 4;
}

constexpr int64_t kSerialScales = int64_t(1) << 16;

// fn(row) for every row of scales, rows split over the cores when there are many scales.
template <class Fn>
void for_rows(ScaleShape s, Fn fn) {
  parallel_for_each(s.m, std::max<int64_t>(1, kSerialScales / std::max<int64_t>(1, s.g)), fn);
}

}  // namespace

std::string_view layout_name(Layout l) { return kNames.name(l); }
std::string layout_names() { return kNames.choices(); }
Layout parse_layout(std::string_view name) { return kNames.parse(name, "scale layout"); }

bool is_ue8m0_layout(Layout l) {
  return l == Layout::ue8m0_packed || l == Layout::mx_swizzle_128x4 || l == Layout::mx_row;
}

int slot_bytes(Layout l) { return l == Layout::mx_swizzle_128x4 || l == Layout::mx_row ? 1 : 4; }

int64_t storage_bytes(Layout l, ScaleShape s) {
  switch (l) {
    case Layout::row:
    case Layout::col:
    case Layout::aiter_tview:
    case Layout::token: return 4 * s.m * s.g;
    case Layout::col_tma: return 4 * align(s.m, 4) * s.g;
    case Layout::ue8m0_packed: return 4 * align(s.m, 4) * ceil_div(s.g, 4);
    case Layout::mx_swizzle_128x4: return align(s.m, 128) * align(s.g, 4);
    case Layout::mx_row: return s.m * s.g;
  }
  return 0;
}

int64_t byte_offset(Layout l, ScaleShape s, int64_t m, int64_t g) {
  switch (l) {
    case Layout::row:
    case Layout::token: return 4 * (m * s.g + g);
    case Layout::col:
    case Layout::aiter_tview: return 4 * (g * s.m + m);
    case Layout::col_tma: return 4 * (g * align(s.m, 4) + m);
    case Layout::ue8m0_packed: return 4 * ((g / 4) * align(s.m, 4) + m) + g % 4;
    case Layout::mx_swizzle_128x4: return swizzle_offset(s, m, g);
    case Layout::mx_row: return m * s.g + g;
  }
  return 0;
}

std::optional<std::pair<int64_t, int64_t>> scale_at(Layout l, ScaleShape s, int64_t byte) {
  if (byte < 0 || byte >= storage_bytes(l, s)) return std::nullopt;
  const int64_t slot = byte / slot_bytes(l);
  int64_t m = 0, g = 0;
  switch (l) {
    case Layout::row:
    case Layout::token: m = slot / s.g, g = slot % s.g; break;
    case Layout::col:
    case Layout::aiter_tview: g = slot / s.m, m = slot % s.m; break;
    case Layout::col_tma: g = slot / align(s.m, 4), m = slot % align(s.m, 4); break;
    case Layout::ue8m0_packed:
      g = (slot / align(s.m, 4)) * 4 + byte % 4, m = slot % align(s.m, 4);
      break;
    case Layout::mx_row: m = slot / s.g, g = slot % s.g; break;
    case Layout::mx_swizzle_128x4: {
      const int64_t atom = byte / 512, in = byte % 512, cblocks = ceil_div(s.g, 4);
      m = (atom / cblocks) * 128 + ((in % 16) / 4) * 32 + in / 16;
      g = (atom % cblocks) * 4 + in % 4;
      break;
    }
  }
  if (m >= s.m || g >= s.g) return std::nullopt;
  return std::pair{m, g};
}

uint8_t padding_byte(Layout l, ScaleShape, int64_t byte) {
  if (l != Layout::col_tma) return 0;
  const uint32_t one = std::bit_cast<uint32_t>(1.0f);
  return uint8_t(one >> (8 * (byte % 4)));  // little-endian bytes of 1.0f
}

bool padding_as_defined(Layout l, ScaleShape s, std::span<const uint8_t> storage) {
  for (int64_t b = 0; b < std::min<int64_t>(int64_t(storage.size()), storage_bytes(l, s)); ++b)
    if (!scale_at(l, s, b) && storage[size_t(b)] != padding_byte(l, s, b)) return false;
  return true;
}

std::vector<uint8_t> storage_rows(Layout l, ScaleShape s, std::span<const uint8_t> storage, int64_t row0, int64_t row1) {
  if (row0 < 0 || row1 < row0 || row1 > s.m || int64_t(storage.size()) < storage_bytes(l, s))
    throw std::invalid_argument("storage_rows: rows [" + std::to_string(row0) + ", " + std::to_string(row1) + ") of " +
                                std::to_string(s.m) + " in " + std::to_string(storage.size()) + " bytes of " +
                                std::string(layout_name(l)));
  const ScaleShape part{row1 - row0, s.g};
  const size_t bytes = is_ue8m0_layout(l) ? 1 : 4;  // one scale's
  std::vector<uint8_t> out(size_t(storage_bytes(l, part)));
  for (int64_t b = 0; b < int64_t(out.size()); ++b) out[size_t(b)] = padding_byte(l, part, b);
  for (int64_t m = 0; m < part.m; ++m)
    for (int64_t g = 0; g < s.g; ++g)
      std::memcpy(&out[size_t(byte_offset(l, part, m, g))], &storage[size_t(byte_offset(l, s, row0 + m, g))], bytes);
  return out;
}

std::vector<uint8_t> pack(Layout l, ScaleShape s, std::span<const float> scales) {
  std::vector<uint8_t> out(size_t(storage_bytes(l, s)));
  parallel_for_each(int64_t(out.size()), kSerialScales, [&](int64_t b) { out[size_t(b)] = padding_byte(l, s, b); });
  const Conversion exact_ue8m0{Format::ue8m0, Overflow::nosat, Rounding::rne};
  for_rows(s, [&](int64_t m) {  // every scale has bytes of its own
    for (int64_t g = 0; g < s.g; ++g) {
      const float v = scales[size_t(m * s.g + g)];
      const int64_t at = byte_offset(l, s, m, g);
      if (is_ue8m0_layout(l))
        out[size_t(at)] = uint8_t(encode(v, exact_ue8m0));
      else
        std::memcpy(&out[size_t(at)], &v, 4);
    }
  });
  return out;
}

std::vector<float> unpack(Layout l, ScaleShape s, std::span<const uint8_t> storage) {
  if (int64_t(storage.size()) < storage_bytes(l, s))
    throw std::invalid_argument("scale storage too small for layout " + std::string(layout_name(l)));
  std::vector<float> out(size_t(s.m * s.g));
  for_rows(s, [&](int64_t m) {
    for (int64_t g = 0; g < s.g; ++g) {
      const int64_t at = byte_offset(l, s, m, g);
      float v;
      if (is_ue8m0_layout(l))
        v = decode_f32(Format::ue8m0, storage[size_t(at)]);
      else
        std::memcpy(&v, &storage[size_t(at)], 4);
      out[size_t(m * s.g + g)] = v;
    }
  });
  return out;
}

}  // namespace ulpgate::quant
