// The all-reduce catalog: every variant x dtype x world size, the sizes around the selection rule's
// thresholds, views at an offset (weakly contiguous or not), sizes that are not a multiple of 16
// bytes or larger than the registered buffer, in place and out of place, exactly summable and edge
// inputs. The full tier adds messages up to 64 MiB for GPUs.
#pragma once

#include <vector>

#include "harness/allreduce/allreduce_case.hpp"
#include "harness/core/family.hpp"

namespace ulpgate::allreduce {

std::vector<Case> catalog(Tier tier);

}  // namespace ulpgate::allreduce
