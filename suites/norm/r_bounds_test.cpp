// The RMSNorm comparator's bounds checked by brute force: the r bound covers every r a kernel can
// compute, and the admissible outputs are exactly those of every fp32 r in the admissible range.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <utility>
#include <vector>

#include "reference/norm/norm.hpp"
#include "suites/norm/reference_inputs.hpp"

using namespace ulpgate;
using namespace ulpgate::norm;
using namespace ulpgate::norm::testing;

namespace {

// Every r a kernel computes (any summation order of depth d, any rsqrt within the profile's ulps)
// lies inside the bound: fp32 sequential sums (depth H) and pairwise trees (depth ceil(log2 H)),
// with the rsqrt moved by the profile's ulps both ways. The bound is also not loose.
float pairwise_sum(std::vector<float> v, int64_t& depth) {
  for (depth = 0; v.size() > 1; ++depth) {
    std::vector<float> next;
    for (size_t i = 0; i + 1 < v.size(); i += 2) next.push_back(v[i] + v[i + 1]);
    if (v.size() & 1) next.push_back(v.back());
    v = next;
  }
  return v[0];
}

TEST(NormReference, RBoundCoversSimulatedKernels) {
  for (auto name : {"vllm", "aiter", "hf"})
    for (int64_t h : {17, 1025, 4096, 5137}) {
      const Profile& p = profile(name);
      const Spec s = make_spec(Op::rms, p, Format::bf16, 4, h);
      const Inputs in = random_inputs(s, uint64_t(h) + 100);
      const Ideal id = normalize_ideal(s, in, normalize_profile(s, in));
      for (int64_t row = 0; row < 4; ++row) {
        std::vector<float> squares(in.x.begin() + row * h, in.x.begin() + (row + 1) * h);
        for (float& t : squares) t *= t;  // exact: bf16 squares fit in fp32
        float sequential = 0;
        for (float t : squares) sequential += t;
        int64_t tree_depth = 0;
        const float tree = pairwise_sum(squares, tree_depth);
        for (auto [sum, depth] : {std::pair{sequential, h}, std::pair{tree, tree_depth}}) {
          const float fh = float(h);
          const float ms = p.mean == MeanOp::divide ? sum / fh : sum * (1.0f / fh);
          const float r0 = float(1.0 / std::sqrt(double(float(double(ms) + p.eps_added))));
          const double bound = r_rel_error_bound(p, h, depth), exact = id.r[size_t(row)];
          for (float dir : {HUGE_VALF, 0.0f}) {
            float r = r0;
            for (int k = 0; k < int(rsqrt_ulps(p.rsqrt)); ++k) r = std::nextafter(r, dir);
            EXPECT_LE(std::fabs(double(r) - exact) / exact, bound) << name << " h=" << h << " depth=" << depth;
          }
          const double gamma = double(depth) * 0x1p-24 / (1 - double(depth) * 0x1p-24);
          EXPECT_LT(bound, gamma / 2 + (2 * rsqrt_ulps(p.rsqrt) + 3) * 0x1p-24);  // not loose
        }
      }
    }
}

// Brute force: output_at over every fp32 r in the admissible range gives exactly admissible_y's
// codes (round twice, where values can be skipped, and round once), and the normalized values
// admissible_normalized describes.
TEST(NormReference, AdmissibleSetsMatchEveryFp32R) {
  for (auto name : {"vllm", "aiter"})
    for (Format dt : {Format::bf16, Format::fp16}) {
      const Profile& p = profile(name);
      const int64_t h = 1025;
      const Spec s = make_spec(Op::rms, p, dt, 2, h);
      const Spec q = [&] {
        Spec t = s;
        t.op = Op::rms_quant;
        t.gs = 0;
        t.layout = quant::Layout::token;
        return t;
      }();
      const Inputs in = random_inputs(s, 77);
      const Ideal id = normalize_ideal(s, in, normalize_profile(s, in));
      const double rel = r_rel_error_bound(p, h, 4096);  // wide: many elements see several outputs
      int several = 0;
      for (int64_t row = 0; row < 2; ++row) {
        const RRange rr = admissible_r(id.r[size_t(row)], rel);
        ASSERT_LE(double(rr.lo), id.r[size_t(row)] * (1 + 1e-15));
        ASSERT_GE(double(rr.hi), id.r[size_t(row)] * (1 - 1e-15));
        for (int64_t i = 0; i < h; ++i) {
          const float z = profile_z(s, in, size_t(row * h + i)), w = in.weight[size_t(i)];
          std::set<uint16_t> seen;
          std::set<float> normalized;
          for (float r = rr.lo; r <= rr.hi; r = std::nextafter(r, HUGE_VALF)) {
            seen.insert(output_at(s, z, w, r));
            normalized.insert(normalized_at(q, z, w, r));
          }
          const std::vector<uint16_t> adm = admissible_y(s, z, w, rr);
          ASSERT_EQ(std::set<uint16_t>(adm.begin(), adm.end()), seen) << name << " i=" << i;
          for (size_t k = 1; k < adm.size(); ++k) ASSERT_LT(value_of(dt, adm[k - 1]), value_of(dt, adm[k]));
          several += adm.size() > 1;
          const Admissible a = admissible_normalized(q, z, w, rr);
          EXPECT_EQ(a.lo, *normalized.begin());
          EXPECT_EQ(a.hi, *normalized.rbegin());
          if (p.quantize_rounded) {
            EXPECT_EQ(std::set<float>(a.values.begin(), a.values.end()), normalized);
          } else {
            EXPECT_TRUE(a.values.empty());
          }
          for (float v : normalized) EXPECT_TRUE(a.contains(v));
        }
      }
      EXPECT_GT(several, 20) << name;
    }
}

}  // namespace
