// What a GPU architecture does in hardware, as data: its warp size and what its fp8 conversion
// instructions do (spec/formats.md). The host-SIMT backend runs kernels under any of these; a
// CUDA/HIP build has its arch fixed by the compiler target.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "reference/formats/formats.hpp"

namespace ulpgate {

struct Arch {
  std::string_view name;
  int warp_size;        // 32 (NVIDIA) or 64 (AMD wavefront)
  Conversion e4m3;      // the native e4m3 conversion instruction (format + overflow mode)
  Conversion e5m2;      // the native e5m2 conversion instruction
  bool hardware;        // a real GPU architecture (false: a host-only emulation target)
  std::string_view backend = "";         // the backend that runs its kernels natively (cuda, hip; "" on the host)
  std::string_view vendor_profile = "";  // the catalog's GEMM profiles of its vendor library ("cublaslt": cublaslt*)
};

// sm90/sm100: PTX cvt.rn.satfinite.{e4m3,e5m2}x2.f32. gfx942 (MI300): fnuz formats; HIP's
// saturating conversion clamps finite values to +-max first and turns Inf into NaN, which is the
// reference's hip_host policy. gfx950: the same instruction semantics on the OCP formats.
inline constexpr Arch kSm90{"sm90", 32, {Format::e4m3fn, Overflow::satfinite},
                            {Format::e5m2, Overflow::satfinite}, true, "cuda", "cublaslt"};
inline constexpr Arch kSm100{"sm100", 32, {Format::e4m3fn, Overflow::satfinite},
                             {Format::e5m2, Overflow::satfinite}, true, "cuda", "cublaslt"};
inline constexpr Arch kGfx942{"gfx942", 64, {Format::e4m3fnuz, Overflow::hip_host},
                              {Format::e5m2fnuz, Overflow::hip_host}, true, "hip"};
inline constexpr Arch kGfx950{"gfx950", 64, {Format::e4m3fn, Overflow::hip_host},
                              {Format::e5m2, Overflow::hip_host}, true, "hip"};
// Host emulation targets: OCP satfinite conversions (as sm90) at either warp size.
inline constexpr Arch kHostW32{"host-w32", 32, {Format::e4m3fn, Overflow::satfinite},
                               {Format::e5m2, Overflow::satfinite}, false};
inline constexpr Arch kHostW64{"host-w64", 64, {Format::e4m3fn, Overflow::satfinite},
                               {Format::e5m2, Overflow::satfinite}, false};

inline constexpr Arch kAllArches[] = {kSm90, kSm100, kGfx942, kGfx950, kHostW32, kHostW64};

// Throws UsageError naming the valid choices.
inline const Arch& arch_by_name(std::string_view name) {
  for (const Arch& a : kAllArches)
    if (a.name == name) return a;
  std::string valid;
  for (const Arch& a : kAllArches) valid += (valid.empty() ? "" : ", ") + std::string(a.name);
  throw UsageError("unknown arch '" + std::string(name) + "' (valid: " + valid + ")");
}

}  // namespace ulpgate
