// The device RMSNorm reference (kernels/norm/reference_kernels.hpp) against the host reference, bit
// for bit: every case of the norm catalog, on the host-SIMT emulator at warp 32 and 64, and with
// CUDA where a GPU is present (the same cases, then production shapes). The profile's y, residual
// and r, the ideal's y and r, and rms-quant's quantizer inputs, codes and scales must all be the host's.
#include <gtest/gtest.h>

#include <bit>
#include <cstring>

#include "harness/norm/catalog.hpp"
#include "suites/norm/device_results.hpp"
#include "kernels/norm/reference_host.hpp"
#include "kernels/norm/reference_kernels.hpp"
#include "kernels/portable/arch.hpp"
#if defined(ULPGATE_HAVE_CUDA)
#include "kernels/norm/reference_gpu.hpp"
#include "kernels/quant/quant_gpu.hpp"
#endif

namespace ulpgate::norm {
namespace {

using testing::difference;
using testing::raw;

// fn(case, its inputs, the host's result) for every catalog case: the device reference computes
// them all.
template <class Fn>
void for_each_computed_case(Tier tier, Fn&& fn) {
  for (const Case& c : catalog(tier)) {
    const std::string declined = norm_kernels::reference_declines(c.spec);
    EXPECT_EQ(declined, "") << c.id();
    if (!declined.empty()) continue;
    const Tensors in = c.inputs();
    fn(c, in, expected(c, in.values));
  }
}

constexpr norm_kernels::RowPasses kSplit = norm_kernels::RowPasses::split;

// The emulated device's result on a case against the host's, and each row's exact sum of squares
// of z (x, or z_of x and the residual) and flags against ExactSum's.
void expect_host_sums_of_z(const Case& c, const Tensors& in) {
  const norm_kernels::ReferenceResult dev = norm_kernels::reference_host(kHostW32, c.spec, raw(in), 0x1p-40, kSplit);
  EXPECT_EQ(difference(expected(c, in.values), dev), "") << c.id();
  const element::Steps steps = c.spec.steps();
  for (int64_t row = 0; row < c.spec.m; ++row) {
    ExactSum want;
    for (int64_t i = row * c.spec.h; i < (row + 1) * c.spec.h; ++i)
      want.add_square(element::z_of(steps, in.values.x[size_t(i)], steps.has_residual ? in.values.residual[size_t(i)] : 0.0f));
    EXPECT_EQ(dev.flags[size_t(row)], want.flags()) << c.id() << " row " << row;
    for (int k = 0; k < ExactSum::kLimbs; ++k)
      ASSERT_EQ(dev.limbs[size_t(row * ExactSum::kLimbs + k)], want.limb(k)) << c.id() << " row " << row << " limb " << k;
  }
}

// Both forms of norm.rms's passes (RefRowsFast where it decides every row, and the split passes).
TEST(NormReferenceKernels, TheEmulatedDeviceComputesTheHostReference) {
  int cases = 0;
  for (const Arch* arch : {&kHostW32, &kHostW64}) {
    for_each_computed_case(Tier::ci, [&](const Case& c, const Tensors& in, const Expected& host) {
      for (const auto passes : {norm_kernels::RowPasses::one_where_decided, kSplit})
        EXPECT_EQ(difference(host, norm_kernels::reference_host(*arch, c.spec, raw(in), 0x1p-40, passes)), "")
            << c.id() << " " << arch->name << " passes " << int(passes);
      ++cases;
    });
  }
  EXPECT_GT(cases, 100);
}

// rms-quant on rows that are not whole packs, where NormRows goes element by element: with a static
// scale (RefCodes without RefAmax), with and without the residual, and per token in one pass
// (RefRowTiles).
TEST(NormReferenceKernels, UnpackedRowsMakeTheirOwnQuantizerInputs) {
  for (const char* id : {"norm.rms-quant/vllm/bf16/3x1025/e4m3fn/static=0.0123/normal/s1",
                         "norm.rms-add-quant/vllm/fp16/3x1025/e4m3fn/static=0.0123/normal/s1",
                         "norm.rms-quant/vllm/bf16/3x1020/e4m3fn/token/normal/s1"}) {
    const Case c = Case::parse(id);
    const Tensors in = c.inputs();
    EXPECT_EQ(difference(expected(c, in.values), norm_kernels::reference_host(kHostW32, c.spec, raw(in))), "") << id;
  }
}

// A window of 2^-4 sends about a tenth of the elements to the host's exact decision (the
// reference's 2^-40 almost none): the results are the same, so the decision the device leaves to
// the host is the one the host reference makes.
TEST(NormReferenceKernels, ElementsNearABoundaryAreDecidedExactlyOnTheHost) {
  int64_t near = 0, elements = 0;
  for_each_computed_case(Tier::ci, [&](const Case& c, const Tensors& in, const Expected& host) {
    const norm_kernels::ReferenceResult dev = norm_kernels::reference_host(kHostW32, c.spec, raw(in), 0x1p-4);
    EXPECT_EQ(difference(host, dev), "") << c.id();
    near += dev.near_boundary, elements += c.spec.m * c.spec.h;
  });
  EXPECT_GT(near, elements / 50);
}

// Rows whose z span the whole range of the type (and fp32 z of x + residual unrounded): most
// squares miss the row's 128-bit window and take the exact accumulator, merged across the block.
TEST(NormReferenceKernels, RowsSpanningEveryBinadeTakeTheExactAccumulator) {
  for (const char* id : {"norm.rms/vllm/bf16/3x1000/normal/s1", "norm.rms/vllm/fp16/2x777/normal/s2",
                         "norm.rms-add/aiter/bf16/3x1025/normal/s3", "norm.rms-add/vllm/bf16/2x640/normal/s4"}) {
    const Case c = Case::parse(id);
    Tensors in = c.inputs();
    const auto spread = [&](std::vector<std::byte>& raw, std::vector<float>& values, uint32_t salt) {
      auto* bits = reinterpret_cast<uint16_t*>(raw.data());
      for (size_t i = 0; i < values.size(); ++i) {
        const uint32_t k = uint32_t(i * 2654435761u + salt) >> 7;
        const uint16_t magnitude = uint16_t(1 + k % (c.spec.dtype == Format::bf16 ? 0x7F7F : 0x7BFF));  // finite, non-zero
        bits[i] = uint16_t(magnitude | (k & 0x8000u));
        values[i] = norm::element::widen(c.spec.dtype, bits[i]);
      }
    };
    spread(in.x, in.values.x, 17);
    if (c.spec.has_residual()) spread(in.residual, in.values.residual, 91);
    // The squares far below a row's largest change neither r: the split passes' sums themselves
    // must agree.
    expect_host_sums_of_z(c, in);
    // norm.rms's one pass: most squares outside its fp64 bands, in its double-double tail.
    EXPECT_EQ(difference(expected(c, in.values), norm_kernels::reference_host(kHostW32, c.spec, raw(in))), "") << id;
  }
}

// Rows of T values whose squares the device sums in fp64 (fp64_band: two bands of 12 binades of
// bf16 below the row's largest at H = 7168, of 9 of fp16), at their limits. Row 0 holds the
// largest magnitude, row 1 its first element that and the others the top of the second band; in
// both, one element a pack walks down from 6 binades below them with an odd significand, through
// the bands and past them, so a thread's fp64 sums span as many bits as they can. The sums must be
// the host's. (fp64_band bounds the row's h squares; a thread sums 56 of them, so a band would
// stay exact 3 binades lower here: this fails from 4 on, in either band.)
TEST(NormReferenceKernels, SquaresSummedInFp64AreExactAtTheirLimit) {
  for (const char* id : {"norm.rms/vllm/bf16/2x7168/normal/s1", "norm.rms/vllm/fp16/2x7168/normal/s2"}) {
    const Case c = Case::parse(id);
    Tensors in = c.inputs();
    const bool bf16 = c.spec.dtype == Format::bf16;
    const int mbits = bf16 ? 7 : 10, band = bf16 ? 12 : 9;
    const int top = bf16 ? 129 : 30;  // biased exponents
    auto* bits = reinterpret_cast<uint16_t*>(in.x.data());
    for (size_t i = 0; i < in.values.x.size(); ++i) {
      const int64_t row = int64_t(i) / c.spec.h;
      const int ceiling = row == 0 || int64_t(i) % c.spec.h == 0 ? 0 : band + 1;  // binades below top
      const int below = ceiling + (i % 8 == 7 ? 6 + int(i / 8 % (bf16 ? 18 : 10)) : 0);
      const uint16_t sign = uint16_t(((i * 2654435761u) >> 9 & 1) << 15);
      bits[i] = uint16_t(sign | (top - below) << mbits | ((1u << mbits) - 1));
      in.values.x[i] = element::widen(c.spec.dtype, bits[i]);
    }
    expect_host_sums_of_z(c, in);
  }
}

// The row's largest |z| decides where its squares are summed (the fp64 bands, the window), and a
// NaN or Inf anywhere in it decides its flags; norm.rms finds it two halves at a time. Rows where
// one element, at each of a pack's eight places in turn, is 2^20 times the others' largest (or
// NaN, or Inf): their sums, flags and outputs must be the host's.
TEST(NormReferenceKernels, TheRowsLargestIsFoundAtEveryPlaceOfAPack) {
  for (const char* id : {"norm.rms/vllm/bf16/24x64/normal/s1", "norm.rms/vllm/fp16/24x64/normal/s2"}) {
    const Case c = Case::parse(id);
    Tensors in = c.inputs();
    const bool bf16 = c.spec.dtype == Format::bf16;
    const int mbits = bf16 ? 7 : 10, top = bf16 ? 150 : 28;  // biased exponents
    const uint16_t inf = bf16 ? 0x7F80 : 0x7C00, nan = bf16 ? 0x7FC1 : 0x7E01;
    auto* bits = reinterpret_cast<uint16_t*>(in.x.data());
    for (size_t i = 0; i < in.values.x.size(); ++i) {
      const int64_t row = int64_t(i) / c.spec.h, at = int64_t(i) % c.spec.h;
      const uint16_t sign = uint16_t(((i * 2654435761u) >> 9 & 1) << 15);
      const bool odd_one = at == 8 * (row * 3 % 8) + row % 8;  // pack row*3 mod 8, place row mod 8
      if (odd_one) bits[i] = row < 8 ? uint16_t(top << mbits | 5) : row < 16 ? nan : inf;
      else bits[i] = uint16_t((top - 20 - int(i % 5)) << mbits | (i * 40503u) % (1u << mbits));
      bits[i] |= sign;
      in.values.x[i] = element::widen(c.spec.dtype, bits[i]);
    }
    expect_host_sums_of_z(c, in);
  }
}

// rms-add rows whose largest |z| is not where x's or the residual's is: the two largest at
// different places, a z that T's rounding carries into the next binade, finite x and residual
// whose z overflows (Inf flags) or cancels, and largest x and residual at different places that
// would overflow together; for a profile that squares T(x + residual) and one that squares the
// fp32 sum. Sums, flags and outputs must be the host's.
TEST(NormReferenceKernels, RmsAddRowsFindTheirLargestZ) {
  for (const char* id : {"norm.rms-add/vllm/bf16/8x64/normal/s1", "norm.rms-add/vllm/fp16/8x64/normal/s2",
                         "norm.rms-add/aiter/bf16/8x64/normal/s3", "norm.rms-add/aiter/fp16/8x64/normal/s4"}) {
    const Case c = Case::parse(id);
    Tensors in = c.inputs();
    const Format t = c.spec.dtype;
    const bool bf16 = t == Format::bf16;
    const uint16_t max = bf16 ? 0x7F7F : 0x7BFF, big = bf16 ? 0x4B00 : 0x6400, just_below_two = 0x3FFF;  // bf16 2 - 2^-7, fp16 2 - 2^-10
    auto* x = reinterpret_cast<uint16_t*>(in.x.data());
    auto* r = reinterpret_cast<uint16_t*>(in.residual.data());
    const auto set = [&](uint16_t* bits, std::vector<float>& values, int64_t row, int64_t at, uint16_t b) {
      const auto i = size_t(row * c.spec.h + at);
      bits[i] = b;
      values[i] = element::widen(t, b);
    };
    set(x, in.values.x, 0, 3, big), set(r, in.values.residual, 0, 42, big);  // apart
    for (int64_t at = 0; at < c.spec.h; ++at)  // row 1: below 1 but for one z that rounds (tie to even) up to 2
      set(x, in.values.x, 1, at, uint16_t(bf16 ? 0x3E80 : 0x3400) | uint16_t(at % 3 == 0 ? 0x8000 : 0)),
          set(r, in.values.residual, 1, at, bf16 ? 0x3C00 : 0x2000);
    set(x, in.values.x, 1, 9, just_below_two), set(r, in.values.residual, 1, 9, bf16 ? 0x3B80 : 0x1000);
    set(x, in.values.x, 2, 17, max), set(r, in.values.residual, 2, 17, max);              // z overflows
    set(x, in.values.x, 3, 5, max), set(r, in.values.residual, 3, 60, max);               // apart, each near the top
    set(x, in.values.x, 4, 7, max), set(r, in.values.residual, 4, 7, uint16_t(max | 0x8000));  // z = 0 there
    expect_host_sums_of_z(c, in);
  }
}

// Where v = fl32(p fl32(r)) and p r (the double product, for the searches below) round to T on
// either side of T's midpoint: how many fp32 ulps v lies from it; -1 where they round alike.
int ulps_across_a_midpoint(Format t, float p, double r) {
  const int drop = t == Format::bf16 ? 16 : 13;
  const float v = p * float(r);
  if (v == 0 || element::round_to(t, double(v)) == element::round_to(t, double(p) * r)) return -1;
  const uint32_t rem = std::bit_cast<uint32_t>(v) & ((1u << drop) - 1), half = 1u << (drop - 1);
  return int(rem > half ? rem - half : half - rem);
}

// The fp32 path of the ideal y (ideal_y_fp32) decides an element only where T's dropped bits lie
// more than 2 fp32 ulps from their midpoint. Weights chosen so that in some row fl32(fl32(z w)
// fl32(r)) lies within 2 ulps of a midpoint on the other side of it from z w r (the double
// product, for the search; the host reference is the oracle): the device must defer those to the
// double path. (bf16 has 128 significands: the rows' r make the cases, about one in 40000.)
TEST(NormReferenceKernels, TheFp32IdealDefersWithinItsErrorOfAMidpoint) {
  for (const char* id : {"norm.rms/vllm/bf16/64x512/normal/s1", "norm.rms/vllm/fp16/64x512/normal/s2"}) {
    const Case c = Case::parse(id);
    Tensors in = c.inputs();
    const Format t = c.spec.dtype;
    const bool bf16 = t == Format::bf16;
    const int mbits = bf16 ? 7 : 10, bias = bf16 ? 127 : 15;
    const std::vector<double> r = expected(c, in.values).ideal.r;  // the weights change no r
    int found = 0;
    // Weights of 7 binades around 1, each column's first that flips in some row, until 16 columns have one.
    for (int64_t col = 0; col < c.spec.h && found < 16; ++col) {
      bool done = false;
      for (uint32_t k = 0; k < (14u << mbits) && !done; ++k) {
        const auto w_bits = uint16_t((k & 1) << 15 | uint32_t(bias - 3 + int(k >> (mbits + 1))) << mbits | (k >> 1 & ((1u << mbits) - 1)));
        const float w = element::widen(t, w_bits);
        for (int64_t row = 0; row < c.spec.m && !done; ++row) {
          const int ulps = ulps_across_a_midpoint(t, in.values.x[size_t(row * c.spec.h + col)] * w, r[size_t(row)]);
          if (ulps < 0 || ulps > 2) continue;
          reinterpret_cast<uint16_t*>(in.weight.data())[col] = w_bits;
          in.values.weight[size_t(col)] = w;
          done = true;
        }
      }
      found += done;
    }
    EXPECT_EQ(found, 16) << id;
    const norm_kernels::ReferenceResult dev = norm_kernels::reference_host(kHostW32, c.spec, raw(in));
    EXPECT_EQ(difference(expected(c, in.values), dev), "") << id;
  }
}

// ideal_y_fp32 (through ideal_y_of) where its margin matters most: fl32(fl32(z w) fl32(r)) one fp32 ulp from a
// midpoint, p r on its other side (r just above a power of two, where fl32(r)'s error is
// largest relative to the product's ulp: about one such case in 1.5 million). The fp32 path must
// give element::ideal_y's answer: the exact rounding or the double path's mark. (A margin of 0
// fails this; 1 would pass, as the error stays below 1.5 ulps by a finer bound than the kernel's.)
TEST(NormReferenceKernels, TheFp32IdealsMarginCoversItsError) {
  for (const Format t : {Format::bf16, Format::fp16}) {
    const bool bf16 = t == Format::bf16;
    const int mbits = bf16 ? 7 : 10, bias = bf16 ? 127 : 15;
    const uint32_t margin = norm_kernels::RefOutputs<Format::bf16, false>::margin_of(true, 0x1p-40);
    uint64_t state = 0x5eed;
    const auto next = [&] { return uint32_t((state = state * 6364136223846793005ull + 1442695040888963407ull) >> 33); };
    int found = 0;
    for (int i = 0; i < 100'000'000 && found < 16; ++i) {
      const auto value = [&](int binades) {
        return element::widen(t, uint16_t((next() & 1) << 15 | uint32_t(bias - 1 + int(next() % uint32_t(binades))) << mbits |
                                          (next() & ((1u << mbits) - 1))));
      };
      const float z = value(3), w = value(3);
      const double r = 1 + next() * 0x1p-41;  // [1, 1 + 2^-9)
      if (ulps_across_a_midpoint(t, z * w, r) != 1) continue;
      ++found;
      const uint32_t exact = element::ideal_y(t, z, w, r, 0x1p-40);
      const uint16_t want = exact == element::kNearBoundary ? norm_kernels::kNearMark : uint16_t(exact);
      const uint16_t got = bf16 ? norm_kernels::ideal_y_of<Format::bf16>(z, w, float(r), r, 0x1p-40, margin)
                                : norm_kernels::ideal_y_of<Format::fp16>(z, w, float(r), r, 0x1p-40, margin);
      ASSERT_EQ(got, want) << std::hexfloat << z << " " << w << " " << r;
    }
    EXPECT_EQ(found, 16) << format_name(t);
  }
}

// The profile's NaN halves (nan_halves, canonical_nans): every 16-bit half beside a finite one,
// a NaN and an Inf, in either place, is the reference's canonical NaN exactly where its magnitude
// lies above Inf. (The host's narrowing already gives canonical NaNs, so only CUDA's 0x7fff would
// tell a wrong canonical_nans apart in the kernel tests.)
template <Format T>
void expect_canonical_nans() {
  constexpr uint32_t inf = T == Format::bf16 ? 0x7F80u : 0x7C00u, nan = norm_kernels::Elem<T>::kNan;
  const auto canonical = [&](uint32_t half) { return (half & 0x7FFFu) > inf ? nan : half; };
  for (uint32_t half = 0; half < 0x10000u; ++half)
    for (uint32_t other : {0x3C00u, 0x7FFFu, inf | 0x8000u})
      for (const uint32_t y : {half | other << 16, other | half << 16}) {
        const uint32_t want = canonical(y & 0xFFFFu) | canonical(y >> 16) << 16;
        const bool any = (y & 0x7FFFu) > inf || (y >> 16 & 0x7FFFu) > inf;
        ASSERT_EQ(norm_kernels::nan_halves<T>(y) != 0, any) << format_name(T) << std::hex << " " << y;
        ASSERT_EQ(norm_kernels::canonical_nans<T>(y), want) << format_name(T) << std::hex << " " << y;
      }
}
TEST(NormReferenceKernels, ProfileNansBecomeTheCanonicalOne) {
  expect_canonical_nans<Format::bf16>();
  expect_canonical_nans<Format::fp16>();
}

// A quantization step the device quantization reference has no kernel for (e5m2 codes) is left
// to the host, and the pipeline refuses it.
TEST(NormReferenceKernels, DeclinesWhatTheQuantizationReferenceDeclines) {
  const Case c = Case::parse("norm.rms-quant/vllm/bf16/4x7168/e5m2/token/normal/s1");
  ASSERT_EQ(c.spec.problem(), "");
  EXPECT_NE(norm_kernels::reference_declines(c.spec).find("quantization step"), std::string::npos);
  const Tensors in = c.inputs();
  EXPECT_THROW(norm_kernels::reference_host(kHostW32, c.spec, raw(in)), UsageError);
}

#if defined(ULPGATE_HAVE_CUDA)
TEST(NormReferenceKernelsCuda, TheGpuComputesTheHostReference) {
  if (quant_kernels::gpu_device_count() == 0) GTEST_SKIP() << "no CUDA device";
  for (Tier tier : {Tier::ci, Tier::full}) {
    for_each_computed_case(tier, [&](const Case& c, const Tensors& in, const Expected& host) {
      if (tier == Tier::full && c.spec.m * c.spec.h > (int64_t(1) << 30)) return;  // the 2^31 case: the sign-off's
      for (const auto passes : {norm_kernels::RowPasses::one_where_decided, kSplit})
        EXPECT_EQ(difference(host, norm_kernels::reference_gpu(c.spec, raw(in), passes)), "") << c.id() << " passes " << int(passes);
    });
  }
}
#endif

}  // namespace
}  // namespace ulpgate::norm
