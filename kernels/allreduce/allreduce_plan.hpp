// Host side of the custom all-reduce: checks a case before launch (the custom kernels' input
// rules, each refusal naming its rule), sizes the grid, and builds every rank's kernel of the
// plan's type for any launcher (the host-SIMT world, one GPU per rank). Plain C++.
#pragma once

#include <stdexcept>

#include "kernels/allreduce/allreduce_kernels.hpp"
#include "reference/allreduce/allreduce.hpp"

namespace ulpgate::allreduce_kernels {

// An input the custom kernels do not take (R19 and the seed PR): refused before launch.
struct AllreduceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Plan {
  Format dtype;
  allreduce::Order kernel;  // rank_order (one-shot) or rotated (two-shot)
  int world;
  int64_t packs;
  LaunchConfig config;
};

// Refuses (AllreduceError naming the rule) a world size outside {2, 4, 6, 8}, a view that is not
// weakly contiguous, a message that is not a multiple of 16 bytes or larger than the registered
// buffer (registered_bytes), a dtype other than bf16/fp16/fp32; picks the kernel (custom-auto:
// the selection rule) and a grid of at most max_blocks blocks of `threads` threads.
Plan plan_allreduce(const allreduce::Spec& spec, int64_t registered_bytes, unsigned max_blocks, unsigned threads);

// Calls fn(make) with make(pointers, rank, out) building rank's kernel of the plan's type.
template <class Faults = NoFault, class Fn>
void with_kernels(const Plan& plan, Fn&& fn, Faults faults = {}) {
  const auto of = [&]<Format F>() {
    if (plan.kernel == allreduce::Order::rank_order)
      fn([&](const WorldPointers& p, int rank, uint8_t* out) {
        return OneShot<F, Faults>{p, {plan.world, rank, plan.packs}, out, faults};
      });
    else
      fn([&](const WorldPointers& p, int rank, uint8_t* out) {
        return TwoShot<F, Faults>{p, {plan.world, rank, plan.packs}, out, faults};
      });
  };
  if (plan.dtype == Format::bf16) of.template operator()<Format::bf16>();
  else if (plan.dtype == Format::fp16) of.template operator()<Format::fp16>();
  else of.template operator()<Format::fp32>();
}

}  // namespace ulpgate::allreduce_kernels
