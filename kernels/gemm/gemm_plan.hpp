// Host side of the GEMM kernel: checks a case before launch (a clear error, never a bad launch),
// turns its spec and profile into the kernel's runtime data, sizes the grid, and launches through
// any launcher (the host-SIMT emulator or the GPU). Plain C++: included by .cpp and .cu files.
#pragma once

#include <cstddef>
#include <stdexcept>

#include "kernels/gemm/gemm_kernels.hpp"
#include "reference/gemm/gemm.hpp"
#include "reference/gemm/grouped.hpp"

namespace ulpgate::gemm_kernels {

// A case the kernel cannot run (spec, buffer sizes): raised before launch.
struct GemmError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr unsigned kBlockThreads = 128;
// Blocks at most: the grid-stride loop covers the rest. On the host every thread is a fiber and a
// few blocks per worker keep them all busy; a GPU wants its multiprocessors full.
inline constexpr unsigned kHostBlocks = 64, kGpuBlocks = 65535;

// The decoder's view of an fp8 format.
Fp8Format fp8_format(Format f);

struct GemmPointers {
  const uint8_t *a, *b, *sa, *sb;
  uint8_t* d;
  const int32_t *m_indices = nullptr, *masked_m = nullptr;  // grouped
  static GemmPointers of(const gemm::Buffers& io);
  static GemmPointers of(const gemm::GroupedBuffers& io);
};

struct GemmPlan {
  GemmMath math;
  LaunchConfig config;
};

// Validates the spec (gemm::Spec::problem: the profile's ops and format pairs, K a multiple of the
// MX block, bpreshuffle's N % 16 and K % 32) and every buffer's size against the profile's layouts;
// throws GemmError naming what was expected. M, N = 0 plan no launch.
GemmPlan plan_gemm(const gemm::Spec& spec, const gemm::Buffers& io, unsigned max_blocks);

// A grouped GEMM (reference/gemm/grouped.hpp) as one launch over all rows of D: the same checks,
// every buffer's size (B and its scales per expert, m_indices or masked_m) against the layout.
// With `streamed`, io.b and io.sb are empty and B's scale storage is streamed's sb_bytes an expert.
GemmPlan plan_grouped_gemm(const gemm::GroupedSpec& spec, const gemm::GroupedBuffers& io, unsigned max_blocks,
                           const gemm::ExpertWeights* streamed = nullptr);

// Launches the plan's kernel with launch(cfg, kernel) on device pointers; faults: tests only.
template <class Faults = NoFault, class Launch>
void launch_gemm(const GemmPlan& p, const GemmPointers& io, Launch&& launch, Faults faults = {}) {
  if (p.math.m == 0 || p.math.n == 0) return;  // nothing to write
  launch(p.config, BlockScaledGemm<Faults>{io.a, io.b, {p.math.sa_map, io.sa}, {p.math.sb_map, io.sb}, io.d, p.math,
                                           faults, io.m_indices, io.masked_m});
}

}  // namespace ulpgate::gemm_kernels
