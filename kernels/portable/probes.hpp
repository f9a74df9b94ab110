// Probe kernels that exercise every function of the device layer. The host tests run them on the
// emulator; probes.cu runs them on a GPU so the emulator can be compared with hardware, and is
// what the CUDA (sm_90a, sm_100a) and HIP (gfx90a, gfx942) compile checks build.
#pragma once

#include <stdint.h>

#include "kernels/portable/device.hpp"
#include "kernels/portable/examples.hpp"

namespace ulpgate::probes {

// Outputs per thread, in this order, for one width.
enum WarpProbeOutput : int {
  kShfl,        // shfl(v, 3 * lane + 1)
  kShflUp,      // shfl_up(v, 1)
  kShflDown,    // shfl_down(v, 2)
  kShflXor1,    // shfl_xor(v, 1) (width > 1)
  kShflXorHalf, // shfl_xor(v, width / 2)
  kBallotLow,   // ballot(v odd), low 32 bits
  kBallotHigh,  //                high 32 bits
  kAny,         // any(v % 5 == 0)
  kAll,         // all(v >= 0)
  kWarpProbeOutputs
};

// in: one int per thread of the grid; out: kWarpProbeOutputs ints per thread.
struct WarpOpsProbe {
  const int* in;
  int* out;
  int width;

  ULPGATE_DEVICE void operator()() const {
    const unsigned t = dev::block_idx().x * dev::block_dim().x + dev::thread_rank();
    const int v = in[t], lane = dev::lane();
    int* o = out + size_t(t) * kWarpProbeOutputs;
    o[kShfl] = dev::shfl(v, 3 * lane + 1, width);
    o[kShflUp] = dev::shfl_up(v, 1, width);
    o[kShflDown] = dev::shfl_down(v, 2, width);
    o[kShflXor1] = width > 1 ? dev::shfl_xor(v, 1, width) : v;  // xor beyond the group: UB on CUDA
    o[kShflXorHalf] = width > 1 ? dev::shfl_xor(v, width / 2, width) : v;
    const uint64_t bits = dev::ballot(v % 2 != 0, width);
    o[kBallotLow] = int(uint32_t(bits));
    o[kBallotHigh] = int(uint32_t(bits >> 32));
    o[kAny] = dev::any(v % 5 == 0, width);
    o[kAll] = dev::all(v >= 0, width);
  }
};

// The arch's conversion instructions, element-wise over n inputs (grid-stride).
struct ConvertProbe {
  const float* in;
  uint8_t* e4m3;
  uint8_t* e5m2;
  uint8_t* ue8m0_rp;
  uint8_t* ue8m0_rz;
  int n;

  ULPGATE_DEVICE void operator()() const {
    const unsigned stride = dev::grid_dim().x * dev::block_dim().x;
    for (unsigned i = dev::block_idx().x * dev::block_dim().x + dev::thread_rank(); i < unsigned(n);
         i += stride) {
      const float x = in[i];
      e4m3[i] = dev::cvt_e4m3(x);
      e5m2[i] = dev::cvt_e5m2(x);
      ue8m0_rp[i] = dev::cvt_ue8m0(x, Ue8m0Round::rp);
      ue8m0_rz[i] = dev::cvt_ue8m0(x, Ue8m0Round::rz);
    }
  }
};

// Copies n floats (n a multiple of 4, pointers 16-byte aligned) through dynamic shared memory
// with 16-byte vector loads and stores, reversing the order of the 16-byte packs within a block.
struct VectorCopyProbe {
  const float* in;
  float* out;

  ULPGATE_DEVICE void operator()() const {
    Pack16<float>* stage = dev::dynamic_shared<Pack16<float>>();
    const unsigned packs = dev::block_dim().x, t = dev::thread_rank();
    const size_t base = size_t(dev::block_idx().x) * packs * 4;
    stage[t] = dev::load16(in + base + 4 * t);
    dev::block_sync();
    dev::store16(out + base + 4 * t, stage[packs - 1 - t]);
  }
};

// One thread writes 0x11 at byte `offset` of `out` (which may lie outside it: the guard probe).
struct StrayWriteProbe {
  uint8_t* out;
  long long offset;

  ULPGATE_DEVICE void operator()() const {
    if (dev::thread_rank() == 0) out[offset] = 0x11;
  }
};

}  // namespace ulpgate::probes
