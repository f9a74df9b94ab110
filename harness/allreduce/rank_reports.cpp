#include "harness/allreduce/rank_reports.hpp"

#include "harness/core/backend.hpp"
#include "harness/core/family.hpp"
#include "harness/core/processes.hpp"

namespace ulpgate::allreduce {

void require_ranks(int world, int ranks) {
  if (world != ranks)
    throw NotSupported("a world of " + std::to_string(world) + " ranks does not run on " + std::to_string(ranks) + " processes");
}

std::vector<RankReport> gather_reports(const RankReport& mine) {
  std::vector<RankReport> all;
  for (const std::string& blob : gather_blobs(pack(mine))) all.push_back(unpack(blob));
  return all;
}

std::string first_part(std::span<const RankReport> all, RankPart p) {
  for (const RankReport& rank : all)
    if (!rank[p].empty()) return rank[p];
  return "";
}

void worsen_by_ranks(CaseResult& r, std::span<const RankReport> all, int ranks) {
  worsen(r, Verdict::out_of_bounds, first_part(all, kOutside));
  worsen(r, Verdict::out_of_bounds, first_part(all, kChanged));
  worsen(r, Verdict::over_budget, first_part(all, kRepeat));
  r.note = "one rank per process (" + std::to_string(ranks) + " MPI processes)";
}

std::string joined_storage(std::span<const RankReport> all) {
  std::string storage;
  for (const RankReport& rank : all) storage += rank[kStorage];
  return storage;
}

}  // namespace ulpgate::allreduce
