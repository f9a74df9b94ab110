// Oracle (b): LLVM APFloat (llvm-19-dev). It defines the four fp8 formats, non-saturating
// (its only behaviour), with round-to-nearest ties-to-even and ties-away; LLVM 19 has no E8M0
// semantics. The saturating policies are the literal composition "clamp to ±max, then convert"
// (NaN kept for satfinite / clamp-first-nan, NaN -> -max for clamp-first), which equals
// saturation after rounding because a clamped value never rounds past max.
// LLVM headers stay inside this file.
#include <llvm/ADT/APFloat.h>
#include <llvm/ADT/APInt.h>

#include "reference/formats/oracles/oracle.hpp"

namespace ulpgate::oracles {
namespace {

const llvm::fltSemantics& target(Format f) {
  switch (f) {
    case Format::e4m3fn: return llvm::APFloat::Float8E4M3FN();
    case Format::e4m3fnuz: return llvm::APFloat::Float8E4M3FNUZ();
    case Format::e5m2: return llvm::APFloat::Float8E5M2();
    default: return llvm::APFloat::Float8E5M2FNUZ();
  }
}

const llvm::fltSemantics& source(Source s) {
  switch (s) {
    case Source::bf16: return llvm::APFloat::BFloat();
    case Source::fp16: return llvm::APFloat::IEEEhalf();
    case Source::fp32: return llvm::APFloat::IEEEsingle();
    case Source::fp64: break;
  }
  return llvm::APFloat::IEEEdouble();
}

unsigned source_bits(Source s) { return s == Source::fp64 ? 64 : s == Source::fp32 ? 32 : 16; }

bool defines(const Conversion& c) {
  const bool format = c.format == Format::e4m3fn || c.format == Format::e4m3fnuz ||
                      c.format == Format::e5m2 || c.format == Format::e5m2fnuz;
  const bool policy = c.overflow == Overflow::nosat || c.overflow == Overflow::satfinite ||
                      c.overflow == Overflow::clamp_first || c.overflow == Overflow::clamp_first_nan;
  return format && policy && (c.rounding == Rounding::rne || c.rounding == Rounding::rn);
}

// Clamps v to ±max of the target (in v's own semantics, where max is exact) per the policy.
void clamp_first(llvm::APFloat& v, const Conversion& c) {
  llvm::APFloat max = llvm::APFloat::getLargest(target(c.format));
  bool loses = false;
  max.convert(v.getSemantics(), llvm::APFloat::rmNearestTiesToEven, &loses);
  if (v.isNaN()) {
    if (c.overflow == Overflow::clamp_first) v = -max;  // fminf(fmaxf(NaN, -max), max)
    return;
  }
  if (llvm::abs(v).compare(max) == llvm::APFloat::cmpGreaterThan) v = v.isNegative() ? -max : max;
}

uint32_t convert(Source s, uint64_t bits, const Conversion& c) {
  llvm::APFloat v(source(s), llvm::APInt(source_bits(s), bits));
  if (c.overflow != Overflow::nosat) clamp_first(v, c);
  bool loses = false;
  const auto mode = c.rounding == Rounding::rn ? llvm::APFloat::rmNearestTiesToAway
                                               : llvm::APFloat::rmNearestTiesToEven;
  v.convert(target(c.format), mode, &loses);
  return uint32_t(v.bitcastToAPInt().getZExtValue());
}

}  // namespace

Oracle llvm_oracle() { return {"llvm", &defines, &convert}; }

}  // namespace ulpgate::oracles
