// RMSNorm profiles: the arithmetic contract of one real implementation (spec/norm.md), as one row
// of data. A new profile is a new row in profile.cpp, never new code.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "reference/quant/profile.hpp"

namespace ulpgate::norm {

// How the output is rounded to the input type T.
enum class Rounding : uint8_t {
  twice,  // y = T(T(z * r) * w): normalize, round to T, multiply by w, round (vLLM, HF)
  once,   // y = T(fl(fl(z * r) * w)): fp32 throughout, one rounding (AITER)
};

// How r = 1 / sqrt(ms + eps) is computed by the implementation (the reference computes it exactly).
enum class Rsqrt : uint8_t {
  exact,  // correctly rounded fp32
  cuda,   // rsqrtf / MUFU.RSQ: documented within 2 ulp (measured about 1.5 on an H200)
  hip,    // within 1 ulp
};
std::string_view rsqrt_name(Rsqrt r);
double rsqrt_ulps(Rsqrt r);  // the error bound of r in fp32 ulps (0.5 for exact)

// How the mean of the squares is formed from their fp32 sum S.
enum class MeanOp : uint8_t {
  divide,      // ms = fl(S / H) (vLLM, AITER kernels)
  reciprocal,  // ms = fl(S * fl(1 / H)): PyTorch's mean (HF transformers)
};

struct Profile {
  std::string_view name;
  float eps;               // inside the square root: r = rsqrt(sum(z^2) / H + eps)
  Rounding rounding;
  bool round_residual;     // rms-add: z = T(x + residual) is what gets squared (else fp32 z)
  Rsqrt rsqrt;
  // The fused quantization (rms-quant); quant empty: the profile does not quantize.
  std::string_view quant;  // the quant profile row giving fp8 max, ue8m0 rule, clamp, cast, NaN
  float amax_floor;        // replaces the quant row's: vLLM fused 2^-9 (its scale floor
                           // 1/(qmax*512) is exactly this), unfused 1e-10
  quant::QuantOp quant_op; // replaces the quant row's: divide or multiply by fl(1/s)
  bool quantize_rounded;   // the quantizer sees T(y) (else the fp32 value before the last rounding)
  MeanOp mean = MeanOp::divide;
  // The exact value added to ms: double(eps) where the kernel adds its float eps in fp32; AITER
  // adds its double `epsilon` argument in double and rounds the sum to fp32 once, so its row holds
  // the double 1e-6. fl32(ms + eps_added) is then the value whose rsqrt is r, for every profile.
  double eps_added = 0;

  // rms-add-quant with a dynamic scale: z = x + residual stays fp32, squared and normalized
  // unrounded (only the written-back residual is rounded), whatever round_residual says for the
  // project's rms-add kernel (vLLM's fused dynamic kernel; its static one rounds like rms-add).
  bool dynamic_quant_z_fp32 = false;
  // The per-tensor row a static scale follows (empty: the row named `quant`).
  std::string_view static_quant = {};
  // The group row per-group scales follow as it is, without this row's overrides (empty: `quant`
  // with them).
  std::string_view group_quant = {};

  bool quantizes() const { return !quant.empty(); }
  // The quant profile the fused step follows: the named row with this profile's overrides; with a
  // static scale the per-tensor row of that name as it is (the static kernels quantize as the
  // project's per-tensor kernel does). Throws UsageError where the row does not exist.
  quant::Profile quant_profile(bool static_scale = false, bool grouped = false) const;
  std::string_view static_row() const { return static_quant.empty() ? quant : static_quant; }
};

std::span<const Profile> profiles();
const Profile& profile(std::string_view name);  // throws UsageError naming the valid profiles
std::string profile_names();

}  // namespace ulpgate::norm
