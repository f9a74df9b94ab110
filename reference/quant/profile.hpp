// Quantization profiles: the exact arithmetic contract of one real implementation, as one row of
// data (spec/quant.md). A new profile is a new row in profile.cpp, never new code.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "reference/formats/formats.hpp"

namespace ulpgate::quant {

enum class ScaleOp : uint8_t {
  divide,          // s = amax / fp8_max (IEEE division)
  reciprocal,      // s = amax * fl(1 / fp8_max)
  inverse_ratio,   // s = fl(1 / m), m = ratio(amax): the dequant scale of a kernel that multiplies
                   // by m (TransformerEngine's current scaling stores scale_inv = 1 / scale)
};

enum class Pow2Rule : uint8_t {
  exponent_bits,   // ue8m0 by exponent bits: exponent + 1 if the mantissa is nonzero
  exp2_ceil_log2,  // exp2(ceil(log2(s))) in fp32 (rounds down just above a power of two: R6)
};

enum class QuantOp : uint8_t {
  divide,          // q = x / s
  reciprocal,      // q = x * fl(1 / s)
  max_over_amax,   // q = x * fl(fp8_max / amax)
  ratio,           // q = x * ratio(amax) (TransformerEngine: the guarded fp8_max / amax, see below)
};

// TransformerEngine's compute_scale_from_amax (recipe_common.cuh): m = fl(fp8_max / amax), but 1
// where amax is 0, Inf or NaN, and FLT_MAX where the quotient overflows.
float ratio(float fp8_max, float amax);

enum class NanPolicy : uint8_t {
  ignore,     // amax uses fmaxf (NaN ignored); the clamp fminf(fmaxf(q, -max), max) sends NaN to -max
  propagate,  // a NaN makes the group's amax and scale NaN
};

// How an MX block chooses its shared ue8m0 scale (spec/formats.md, MXFP8). The profiles use floor
// and rceil; the others are roundings real kernels take, which the diagnosis names.
enum class MxRule : uint8_t {
  none,   // not an MX profile
  floor,  // OCP MX: X = 2^(floor(log2 amax) - emax_elem); elements clamped to +-max
  rceil,  // NVIDIA stack: X = rp_ue8m0(fl(amax * fl(1 / max)))
  ceil,   // X = 2^ceil(log2(amax / max)), exact: the least power of two with amax / X <= max
  even,   // torchao's EVEN: amax rounded half up at the element's mantissa width, then floor
  rn,     // X = the ue8m0 nearest fl(amax / max) (PyTorch's float8_e8m0fnu cast of the scale)
};
std::string_view mx_rule_name(MxRule r);  // "floor", "rceil", ...
inline constexpr MxRule kMxRules[] = {MxRule::floor, MxRule::rceil, MxRule::ceil, MxRule::even, MxRule::rn};

enum class Scope : uint8_t { group, tensor, silu_mul };

struct Profile {
  std::string_view name;
  float max_ocp;        // fp8 max (clamp and divisor) with e4m3fn; 0 = format unsupported
  float max_fnuz;       // fp8 max with e4m3fnuz; 0 = format unsupported
  float amax_floor;     // amax = fmaxf(amax, floor); 0 = no floor
  float scale_floor;    // with ue8m0: s = fmaxf(s, floor) before rounding; 0 = none
  ScaleOp scale_op;
  Pow2Rule pow2;        // how the scale is rounded when the case asks for ue8m0 scales
  bool exp_clamp;       // ue8m0 exponent clamped to [1, 254] (smallest scale 2^-126)
  QuantOp quant_op;     // with fp32 scales; ue8m0 scales are powers of two, so q = x * 2^-e exactly
  bool clamp;           // clamp q to +-max before the cast (else the cast's policy decides)
  Overflow cast;        // overflow policy of the final cast
  NanPolicy nan;
  MxRule mx;
  bool approx_division;    // divisions are approximate (<= 2 ulp): not bit-reproducible
  // The clamp's order: fmaxf(-max, fminf(q, max)) sends NaN to +max (vLLM's and SGLang's
  // per-tensor kernels); the default fminf(fmaxf(q, -max), max) sends it to -max.
  bool nan_to_max = false;
  // The op the row belongs to: a group kernel's (profiles()), quant.tensor's (tensor_profiles())
  // or quant.silu-mul's (silu_mul_profiles()).
  Scope scope = Scope::group;
  float fp32_scale_floor = 0;  // fp32 scales: s = fmaxf(s, floor) after the division (0: none)
  // silu-mul: the kernel's exp is within exp_ulps + floor(exp_ulps_per_x * |x|) ulps of the
  // correctly rounded e^x (CUDA's table: expf 2 + 0; the fast-math __expf 2 + 1.173 |x|).
  float exp_ulps = 0;
  // A fused kernel's static quantizer (a per-tensor row with no quant.tensor kernel of its own):
  // quant's catalog has no case of it, and it has no dynamic form.
  bool fused_only = false;
  float exp_ulps_per_x = 0;
  // silu-mul: the sigmoid's form: fl(g / fl(1 + e)) (SGLang), else fl(g * fl(1 / fl(1 + e))) (vLLM).
  bool silu_divides = false;
  // silu-mul: y is stored in the input dtype and its codes are those of the stored value, while
  // the amax (and so the scale) is the fp32 y's (SGLang writes y over the gate and reads it back).
  bool codes_from_stored_y = false;
  // Built with fast math (nvcc -use_fast_math): subnormal operands and results of the fp32 steps
  // are flushed to zero of their sign (FTZ).
  bool ftz = false;
  // The kernel writes fp32 scales only (no ue8m0 form): the catalog gives it no ue8m0 layout.
  bool fp32_scales_only = false;
  // silu-mul: the amax (and so the scale) is that of y as stored in the input dtype, not the fp32
  // y's (TransformerEngine rounds y to the input dtype before its amax, "numerical truncation").
  bool amax_from_stored_y = false;

  float fp8_max(Format f) const { return f == Format::e4m3fnuz ? max_fnuz : max_ocp; }
  bool supports(Format f) const { return fp8_max(f) != 0; }
};

std::span<const Profile> profiles();
const Profile& profile(std::string_view name);  // throws UsageError naming the valid profiles
std::string profile_names();

// Per-tensor kernels (quant.tensor) are rows of their own: the same names as the group kernels of
// the same project, other arithmetic (no floor, a reciprocal multiply, the clamp's order).
std::span<const Profile> tensor_profiles();
const Profile& tensor_profile(std::string_view name);
std::string tensor_profile_names();

// quant.silu-mul's rows: the fused SiLU-and-mul + per-token-group quantization kernels.
std::span<const Profile> silu_mul_profiles();

}  // namespace ulpgate::quant
