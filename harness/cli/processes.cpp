#include "harness/cli/processes.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#if defined(ULPGATE_HAVE_MPI)
#include <mpi.h>
#endif

namespace ulpgate::cli {
namespace {

// ---- a Share as bytes (MPI moves blobs) -----------------------------------------------------

template <class T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put(std::string& out, const std::string& s) {
  put(out, uint64_t(s.size()));
  out += s;
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}
  template <class T>
  void get(T& v) {
    take(reinterpret_cast<char*>(&v), sizeof v);
  }
  void get(std::string& s) {
    uint64_t n = 0;
    get(n);
    s.resize(n);
    take(s.data(), n);
  }
  bool done() const { return rest_.empty(); }

 private:
  void take(char* to, size_t n) {
    if (n > rest_.size()) throw std::runtime_error("mpi: a truncated result message");
    std::memcpy(to, rest_.data(), n);
    rest_.remove_prefix(n);
  }
  std::string_view rest_;
};

// Every field of a CaseResult, in declaration order.
template <class Io, class R>
void fields(Io& io, R& r) {
  io(r.case_id), io(r.family), io(r.profile), io(r.backend), io(r.verdict);
  io(r.elements), io(r.n_exact), io(r.n_within), io(r.n_over), io(r.n_nonfinite), io(r.n_nan), io(r.max_ulp);
  io(r.digest), io(r.wall_seconds), io(r.message), io(r.note);
}

[[maybe_unused]] std::string encode(const Share& s) {
  std::string out;
  const auto write = [&](const auto& v) { put(out, v); };
  put(out, uint64_t(s.results.size()));
  for (const auto& [job, r] : s.results) {
    put(out, uint64_t(job));
    fields(write, r);
    put(out, uint64_t(r.first_bad.size()));
    for (const std::string& line : r.first_bad) put(out, line);
  }
  put(out, uint64_t(s.skipped.size()));
  for (const auto& [why, n] : s.skipped) put(out, why), put(out, uint64_t(n));
  return out;
}

[[maybe_unused]] void decode_into(std::string_view bytes, Share& into) {
  Reader in(bytes);
  const auto read = [&](auto& v) { in.get(v); };
  uint64_t n = 0;
  in.get(n);
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t job = 0, lines = 0;
    CaseResult r;
    in.get(job);
    fields(read, r);
    in.get(lines);
    r.first_bad.resize(lines);
    for (std::string& line : r.first_bad) in.get(line);
    into.results.emplace_back(size_t(job), std::move(r));
  }
  in.get(n);
  for (uint64_t i = 0; i < n; ++i) {
    std::string why;
    uint64_t count = 0;
    in.get(why), in.get(count);
    into.skipped[why] += size_t(count);
  }
  if (!in.done()) throw std::runtime_error("mpi: trailing bytes in a result message");
}

#if defined(ULPGATE_HAVE_MPI)
void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, size_t(len)));
}
#define ULPGATE_MPI_CHECK(call) check((call), #call)

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_SIZE");
}
#endif

}  // namespace

const Processes& processes() {
  static const Processes p = [] {
    Processes out;
#if defined(ULPGATE_HAVE_MPI)
    if (!launched_by_mpirun()) return out;
    ULPGATE_MPI_CHECK(MPI_Init(nullptr, nullptr));
    std::atexit([] { MPI_Finalize(); });
    ULPGATE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &out.rank));
    ULPGATE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &out.size));
#endif
    return out;
  }();
  return p;
}

Share gather(const Share& mine) {
  const Processes& p = processes();
  if (p.size == 1) return mine;
  Share all;
#if defined(ULPGATE_HAVE_MPI)
  const std::string blob = encode(mine);
  const int bytes = int(blob.size());
  std::vector<int> sizes(size_t(p.size)), offsets(size_t(p.size));
  ULPGATE_MPI_CHECK(MPI_Gather(&bytes, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  int total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) offsets[r] = total, total += sizes[r];
  std::string received(p.root() ? size_t(total) : 0, '\0');
  ULPGATE_MPI_CHECK(MPI_Gatherv(blob.data(), bytes, MPI_BYTE, received.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
                                MPI_COMM_WORLD));
  if (!p.root()) return all;
  std::string ran;
  for (size_t r = 0; r < sizes.size(); ++r) {
    const size_t before = all.results.size();
    decode_into(std::string_view(received).substr(size_t(offsets[r]), size_t(sizes[r])), all);
    ran += (r ? " + " : "") + std::to_string(all.results.size() - before);
  }
  std::printf("mpi: %d processes ran %s cases\n", p.size, ran.c_str());
  std::sort(all.results.begin(), all.results.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
#endif
  return all;
}

}  // namespace ulpgate::cli
