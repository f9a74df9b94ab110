#include "reference/gemm/layout.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace ulpgate::gemm {
namespace {

void check_tiles(int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || rows % 16 || cols % 32)
    throw std::invalid_argument("bpreshuffle needs N % 16 = 0 and K % 32 = 0 (N = " + std::to_string(rows) +
                                ", K = " + std::to_string(cols) + ")");
}

// out[to(i)] = in[i] over every index of an [N, K] matrix, or the inverse, into out.
template <class Map>
void permute_into(std::span<const uint8_t> in, std::span<uint8_t> out, int64_t rows, int64_t cols, Map to) {
  check_tiles(rows, cols);
  if (int64_t(in.size()) != rows * cols || out.size() != in.size()) throw std::invalid_argument("bpreshuffle: size is not N * K");
  for (int64_t n = 0; n < rows; ++n)
    for (int64_t k = 0; k < cols; ++k) to(out, in, n * cols + k, bpreshuffle_offset(n, k, rows, cols));
}

void shuffle_into(std::span<const uint8_t> b, std::span<uint8_t> out, int64_t rows, int64_t cols) {
  permute_into(b, out, rows, cols, [](auto& out, auto& in, int64_t logical, int64_t physical) {
    out[size_t(physical)] = in[size_t(logical)];
  });
}

bool shuffled(const Spec& spec) { return spec.profile && spec.profile->weights == WeightLayout::bpreshuffle; }

}  // namespace

int64_t bpreshuffle_offset(int64_t n, int64_t k, int64_t, int64_t cols) {
  return ((n / 16) * (cols / 32) + k / 32) * 512 + ((k % 32) / 16) * 256 + (n % 16) * 16 + k % 16;
}

std::pair<int64_t, int64_t> bpreshuffle_source(int64_t offset, int64_t, int64_t cols) {
  const int64_t tile = offset / 512, in = offset % 512;
  const int64_t n = (tile / (cols / 32)) * 16 + (in % 256) / 16;
  const int64_t k = (tile % (cols / 32)) * 32 + (in / 256) * 16 + in % 16;
  return {n, k};
}

std::vector<uint8_t> bpreshuffle(std::span<const uint8_t> b, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(b.size());
  shuffle_into(b, out, rows, cols);
  return out;
}

std::vector<uint8_t> unshuffle(std::span<const uint8_t> physical, int64_t rows, int64_t cols) {
  std::vector<uint8_t> out(physical.size());
  permute_into(physical, out, rows, cols, [](auto& out, auto& in, int64_t logical, int64_t phys) {
    out[size_t(logical)] = in[size_t(phys)];
  });
  return out;
}

void pack_weights_into(const Spec& spec, std::span<const uint8_t> b, std::span<uint8_t> out) {
  if (!shuffled(spec)) {
    if (out.size() != b.size()) throw std::invalid_argument("pack_weights_into: the output is not B's size");
    std::copy(b.begin(), b.end(), out.begin());
    return;
  }
  shuffle_into(b, out, spec.n, spec.k);
}

std::vector<uint8_t> pack_weights(const Spec& spec, std::span<const uint8_t> b) {
  if (!shuffled(spec)) return {b.begin(), b.end()};  // one pass, not a zeroed vector filled again
  return bpreshuffle(b, spec.n, spec.k);
}

std::vector<uint8_t> unpack_weights(const Spec& spec, std::span<const uint8_t> physical) {
  if (!shuffled(spec)) return {physical.begin(), physical.end()};
  return unshuffle(physical, spec.n, spec.k);
}

quant::Layout scale_layout(const Spec& spec, Which which) {
  if (!spec.profile) throw UsageError("gemm spec without a profile");
  const Profile& p = *spec.profile;
  const ScaleLayouts l = spec.op == Op::mx    ? p.mx_scales
                         : spec.op != Op::block ? ScaleLayouts{quant::Layout::row, quant::Layout::row}
                         : spec.ue8m0          ? p.ue8m0_scales
                                               : p.block_scales;
  return which == Which::a ? l.a : l.b;
}

quant::ScaleShape scale_shape(const Spec& spec, Which which) {
  const Geometry g = geometry(spec);
  return which == Which::a ? g.sa : g.sb;
}

std::vector<uint8_t> pack_scales(const Spec& spec, Which which, std::span<const float> logical) {
  return quant::pack(scale_layout(spec, which), scale_shape(spec, which), logical);
}

std::vector<float> unpack_scales(const Spec& spec, Which which, std::span<const uint8_t> physical) {
  return quant::unpack(scale_layout(spec, which), scale_shape(spec, which), physical);
}

Stored stored(const Spec& spec, const Operands& in) {
  return {in.a, pack_weights(spec, in.b), pack_scales(spec, Which::a, in.sa), pack_scales(spec, Which::b, in.sb)};
}

Operands logical(const Spec& spec, const Buffers& io) {
  return {{io.a.begin(), io.a.end()}, unpack_weights(spec, io.b), unpack_scales(spec, Which::a, io.sa),
          unpack_scales(spec, Which::b, io.sb)};
}

}  // namespace ulpgate::gemm
