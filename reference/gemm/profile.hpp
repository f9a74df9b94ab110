// FP8 GEMM profiles (spec/gemm.md): the arithmetic and layout contract of one real library, as one
// row of data. A new profile is a new row in profile.cpp, never new code.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "reference/formats/formats.hpp"
#include "reference/quant/layout.hpp"

namespace ulpgate::gemm {

enum class Op : uint8_t { tensor, rowwise, block, mx };
std::string_view op_name(Op op);     // "gemm.tensor", "gemm.rowwise", "gemm.block", "gemm.mx"
Op parse_op(std::string_view name);  // throws UsageError naming the choices
std::string op_names();

// How two fp32 scales meet an fp32 value G (a block sum, or the whole-K accumulator in the
// epilogue), each step rounded to fp32 (RN); with a running sum `main` the last step is an FMA
// into it (nvcc and hipcc contract `main += x * y`), without one it is a plain multiply.
enum class ScaleRule : uint8_t {
  product_first,  // fma(G, fl(sa * sb), main)         cuBLASLt, DeepGEMM (one rounding of G * s)
  a_first,        // fma(fl(G * sa), sb, main)         CUTLASS blockwise, CK, Triton (two)
  b_first,        // fma(fl(G * sb), sa, main)         cuBLASLt rowwise: fl(sa * fl(sb * acc))
};
std::string_view scale_rule_name(ScaleRule r);

enum class WeightLayout : uint8_t {
  row,          // B as [N, K] row-major codes
  bpreshuffle,  // AITER's 16x32 tiles of two 16x16 row-major sub-tiles (layout.hpp)
};

struct FormatPair {
  Format a, b;
};

// Physical layouts of the A and B scales of one op, as quant::Layout over the logical scale
// matrices: A over [rows of A, K-blocks], B over [scale rows of B, K-blocks] (gemm.hpp Geometry).
struct ScaleLayouts {
  quant::Layout a, b;
};

struct Profile {
  std::string_view name;
  uint8_t ops;                        // bit (1 << Op) for each op the library implements
  std::span<const FormatPair> pairs;  // the (A, B) format pairs it takes
  int promote_k;                      // its accumulation mode: MMA chains restart every promote_k
                                      // K (added into fp32), 0 = never (fast accumulation)
  ScaleRule tensor, rowwise, block;   // epilogue of gemm.tensor / gemm.rowwise; block combine
                                      // (gemm.block, and gemm.mx where scales leave the MMA)
  ScaleLayouts block_scales;          // gemm.block with fp32 scales
  bool takes_ue8m0;                   // gemm.block with power-of-two scales (spec.ue8m0)
  ScaleLayouts ue8m0_scales;          // ... and their layouts
  ScaleLayouts mx_scales;             // gemm.mx
  WeightLayout weights;

  bool supports(Op op) const { return (ops >> int(op)) & 1; }
  bool takes(Format a, Format b) const;
  std::string ops_text() const;    // "gemm.tensor, gemm.block"
  std::string pairs_text() const;  // "e4m3fn x e4m3fn, e4m3fn x e5m2"
};

std::span<const Profile> profiles();
const Profile& profile(std::string_view name);  // throws UsageError naming the valid profiles
std::string profile_names();

}  // namespace ulpgate::gemm
