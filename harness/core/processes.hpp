// The processes of an MPI launch (`mpirun -np N ulpgate run ...`): each runs its share of a
// sweep's cases (job j on rank j mod N), and rank 0 collects every result in catalog order and
// alone prints and writes the reports, golden files and exit status. Without mpirun, or in a build
// without MPI, there is one process and nothing changes.
#pragma once

#include <cstddef>
#include <map>
#include <string_view>
#include <string>
#include <utility>
#include <vector>

#include "harness/core/case_result.hpp"

namespace ulpgate {

struct Processes {
  int rank = 0, size = 1;
  bool root() const { return rank == 0; }
  bool mine(size_t job) const { return int(job % size_t(size)) == rank; }
};

// Initializes MPI on first use when launched by mpirun (MPI_Finalize at exit).
const Processes& processes();

// A case a backend declines (NotSupported: more GPUs than present, a library without the op).
struct Declined {
  std::string case_id, backend, why;  // backend as its rows name it: "cuda@sm90"
};

// A sweep's results: (job index, result) pairs and the declined cases. gather() hands rank 0
// every process's share, ordered by job index (the other ranks get nothing back).
struct Share {
  std::vector<std::pair<size_t, CaseResult>> results;
  std::vector<Declined> declined;
};
// How many cases were declined for each reason.
std::map<std::string, size_t> count_by_reason(const std::vector<Declined>& declined);
Share gather(const Share& mine);
// A Share as bytes, and back (appended to `into`; a truncated or overlong message throws): how
// MPI moves shares, and how a case's child process (--isolate) hands back its result.
std::string encode(const Share& s);
void decode_into(std::string_view bytes, Share& into);

// For one case whose ranks are the processes (an all-reduce under mpirun), every call collective:
// Length-prefixed strings in one blob, and back.
std::string pack(const std::vector<std::string>& parts);
std::vector<std::string> unpack(std::string_view blob);
// Every process's blob at rank 0, in rank order (the other ranks get nothing).
std::vector<std::string> gather_blobs(const std::string& mine);
// Every process's blob at every process, in rank order (how GPU ranks swap IPC handles and NCCL's id).
std::vector<std::string> exchange_blobs(const std::string& mine);
// Every process's segment of a shared-memory window of `bytes` per process, in rank order: memory
// all processes address directly (MPI_Win_allocate_shared; the processes must share a host). One
// window per size, kept for the process's life; this process's segment starts zeroed.
std::vector<std::byte*> shared_segments(size_t bytes);

}  // namespace ulpgate
