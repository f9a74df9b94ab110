// A case whose ranks are the processes (mpirun, core/processes.hpp): what each process reports to
// rank 0, and how rank 0 reads the reports into the case's result. The plain all-reduce and the
// fused ops share it.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "harness/core/case_result.hpp"

namespace ulpgate::allreduce {

// One process's report: its parts in this order, an empty part when there is nothing to say.
enum RankPart : size_t { kStorage, kOutput, kRefused, kError, kChanged, kOutside, kRepeat, kRankParts };
using RankReport = std::vector<std::string>;

// NotSupported unless the case's world is the process count.
void require_ranks(int world, int ranks);
// Every process's report at rank 0, in rank order; nothing at the other ranks. Collective.
std::vector<RankReport> gather_reports(const RankReport& mine);
// The first non-empty part p over the ranks, in rank order ("" when none).
std::string first_part(std::span<const RankReport> all, RankPart p);
// What any rank saw besides its outputs' values (a write outside them or into its input, a
// repeated run that differed) worsens r, and r gets the note that says how it ran.
void worsen_by_ranks(CaseResult& r, std::span<const RankReport> all, int ranks);
// Every rank's storage in rank order: what the case's digest covers.
std::string joined_storage(std::span<const RankReport> all);
// A string's bytes as elements of T, and back (the parts travel as strings).
template <class T>
std::vector<T> elements_of(const std::string& bytes) {
  std::vector<T> v(bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), v.size() * sizeof(T));
  return v;
}
template <class T>
std::string bytes_of(std::span<const T> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size_bytes());
}

}  // namespace ulpgate::allreduce
