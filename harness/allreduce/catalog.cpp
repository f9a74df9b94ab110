#include "harness/allreduce/catalog.hpp"

namespace ulpgate::allreduce {
namespace {

constexpr int64_t KiB = 1024, MiB = 1024 * KiB;

int64_t elements(Format dtype, int64_t bytes) { return bytes / (info(dtype).bits / 8); }

Case make(std::string_view variant_name, Format dtype, int world, View view, bool in_place = false,
          std::string_view input = "normal") {
  Case c;
  c.spec.variant = &variant(variant_name);
  c.spec.dtype = dtype;
  c.spec.world = world;
  c.spec.view = view;
  c.spec.in_place = in_place;
  c.input = std::string(input);
  return c;
}

// Inputs whose summation order shows in the bits: powers of two and their neighbours over
// 2^-24..2^24. (The fp32 sum of a few `normal` samples, short significands of similar size, is
// exact in any order, so those tell the orders apart only by the final rounding.)
constexpr std::string_view kOrderShows = "pow2-boundary_emin=-24_emax=24";

// Every variant x dtype x world 2, 4, 8 (and 6 for bf16) at 769 packs (12304 bytes): an odd pack
// count, so every two-shot partition has a remainder on the last rank; normal inputs and inputs
// whose order shows.
void add_variants(std::vector<Case>& out) {
  for (const Variant& v : variants())
    for (Format t : {Format::bf16, Format::fp16, Format::fp32})
      for (int w : {2, 4, 6, 8})
        for (std::string_view input : {std::string_view("normal"), kOrderShows})
          if (w != 6 || t == Format::bf16) out.push_back(make(v.name, t, w, {elements(t, 12304)}, false, input));
}

// The selection rule's thresholds (custom-auto: 256 KiB at world 8, 512 KiB at world 4) from below
// and at them, a 16-byte message and 2 MiB, with inputs whose order shows (the kernel that ran is
// in the bits); then messages the custom kernels may refuse: 14 bytes (not a multiple of 16) and
// one larger than the registered buffer.
void add_sizes(std::vector<Case>& out) {
  for (int64_t bytes : {int64_t(16), 256 * KiB - 16, 256 * KiB, 512 * KiB - 16, 512 * KiB, 2 * MiB})
    for (int w : {4, 8}) out.push_back(make("custom-auto", Format::fp32, w, {elements(Format::fp32, bytes)}, false, kOrderShows));
  for (std::string_view v : {"custom-1shot", "custom-2shot", "nccl"}) {
    out.push_back(make(v, Format::bf16, 2, {7}));
    out.push_back(make(v, Format::fp32, 2, {elements(Format::fp32, 8 * MiB + 16)}));
  }
}

// Views (R19): a weakly contiguous view at an offset must be reduced correctly; one with storage
// after it may be refused by the custom kernels (never reduced into garbage). In place and out;
// on 2 ranks (every multi-GPU machine) and more.
void add_views(std::vector<Case>& out) {
  for (const Variant& v : variants()) {
    for (int w : {2, 4}) {
      out.push_back(make(v.name, Format::bf16, w, {4096, 24}, false, kOrderShows));
      out.push_back(make(v.name, Format::bf16, w, {4096, 24, 40}));
      out.push_back(make(v.name, Format::bf16, w, {6152}, true, kOrderShows));
    }
    out.push_back(make(v.name, Format::fp32, 8, {3076, 12}, true, kOrderShows));
  }
}

// Exactly summable inputs (bit-exact for every variant), overflowing sums, NaN / Inf and subnormal
// inputs, zeros, and heavy cancellation between ranks (outliers); on 2 ranks and more.
void add_inputs(std::vector<Case>& out) {
  for (const Variant& v : variants()) {
    for (Format t : {Format::bf16, Format::fp16, Format::fp32}) out.push_back(make(v.name, t, 4, {elements(t, 12304)}, false, "exact"));
    out.push_back(make(v.name, Format::bf16, 8, {elements(Format::bf16, 64 * KiB)}, false, "exact"));
    for (int w : {2, 4}) {
      out.push_back(make(v.name, Format::fp16, w, {2048}, false, "near-overflow_max=65504_spread=0"));
      out.push_back(make(v.name, Format::bf16, w, {2048}, false, "normal_nan=97_inf=89_den=13"));
      out.push_back(make(v.name, Format::fp32, w, {2048}, false, "zeros"));
    }
    out.push_back(make(v.name, Format::bf16, 8, {2048}, false, "outliers_every=16_mag=1000"));
    out.push_back(make(v.name, Format::fp32, 2, {2048}, false, "outliers_every=16_mag=1000"));
  }
}

// GPU-sized messages: 8, 32 and 64 MiB (the custom variants refuse what exceeds their buffer),
// and NCCL's to 1 GiB (the NCCL test tool's largest).
void add_large(std::vector<Case>& out) {
  for (const Variant& v : variants())
    for (int64_t bytes : {8 * MiB, 32 * MiB, 64 * MiB})
      for (int w : {2, 4}) out.push_back(make(v.name, Format::bf16, w, {elements(Format::bf16, bytes)}));
  for (int64_t bytes : {256 * MiB, 1024 * MiB})
    for (int w : {2, 4, 8}) out.push_back(make("nccl", Format::bf16, w, {elements(Format::bf16, bytes)}));
}

}  // namespace

std::vector<Case> catalog(Tier tier) {
  std::vector<Case> out;
  add_variants(out);
  add_sizes(out);
  add_views(out);
  add_inputs(out);
  if (tier == Tier::full) add_large(out);
  return out;
}

}  // namespace ulpgate::allreduce
