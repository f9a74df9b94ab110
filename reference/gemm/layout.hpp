// Physical layouts of GEMM operands (spec/gemm.md "Scale and weight layouts"): the AITER
// bpreshuffle weight permutation, and each profile's scale storage through quant::pack/unpack.
// Every map is a pure permutation, tested as a bijection on every index.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "reference/gemm/gemm.hpp"

namespace ulpgate::gemm {

// bpreshuffle: 16 (N) x 32 (K) tiles of two 16x16 row-major sub-tiles; element (n, k) of an
// [N, K] matrix moves to ((n/16)(K/32) + k/32) 512 + ((k%32)/16) 256 + (n%16) 16 + k%16.
// N % 16 = 0 and K % 32 = 0 (else std::invalid_argument).
int64_t bpreshuffle_offset(int64_t n, int64_t k, int64_t rows, int64_t cols);
std::pair<int64_t, int64_t> bpreshuffle_source(int64_t offset, int64_t rows, int64_t cols);  // (n, k)
std::vector<uint8_t> bpreshuffle(std::span<const uint8_t> b, int64_t rows, int64_t cols);
std::vector<uint8_t> unshuffle(std::span<const uint8_t> physical, int64_t rows, int64_t cols);

// B as the profile's kernel reads it (row: unchanged) and back.
std::vector<uint8_t> pack_weights(const Spec& spec, std::span<const uint8_t> b);
void pack_weights_into(const Spec& spec, std::span<const uint8_t> b, std::span<uint8_t> out);  // out: B's size
std::vector<uint8_t> unpack_weights(const Spec& spec, std::span<const uint8_t> physical);

enum class Which : uint8_t { a, b };
// The physical layout of A's or B's scales under the spec's profile (`row` for the one-column
// scale vectors of gemm.tensor and gemm.rowwise), over the logical shape of gemm.hpp Geometry.
quant::Layout scale_layout(const Spec& spec, Which which);
quant::ScaleShape scale_shape(const Spec& spec, Which which);
std::vector<uint8_t> pack_scales(const Spec& spec, Which which, std::span<const float> logical);
std::vector<float> unpack_scales(const Spec& spec, Which which, std::span<const uint8_t> physical);

// The operands as the spec's profile stores them: A's codes, B in its weight layout, the scales
// in their layouts. buffers() lends them to a kernel with an output D.
struct Stored {
  std::vector<uint8_t> a, b, sa, sb;
  Buffers buffers(std::span<std::byte> d) const { return {a, b, sa, sb, d}; }
};
Stored stored(const Spec& spec, const Operands& in);
// The logical operands a kernel's buffers hold (stored()'s inverse): what a test backend computes from.
Operands logical(const Spec& spec, const Buffers& io);

}  // namespace ulpgate::gemm
