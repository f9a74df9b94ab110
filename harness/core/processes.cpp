#include "harness/core/processes.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "reference/formats/formats.hpp"

#if defined(ULPGATE_HAVE_MPI)
#include <mpi.h>
#endif

namespace ulpgate {
namespace {

// ---- a Share as bytes (MPI, and the pipe from a case's child process, move blobs) ----------

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
    if (n > rest_.size()) throw std::runtime_error("a truncated result message");
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

}  // namespace

std::map<std::string, size_t> count_by_reason(const std::vector<Declined>& declined) {
  std::map<std::string, size_t> n;
  for (const Declined& d : declined) ++n[d.why];
  return n;
}

std::string encode(const Share& s) {
  std::string out;
  const auto write = [&](const auto& v) { put(out, v); };
  put(out, uint64_t(s.results.size()));
  for (const auto& [job, r] : s.results) {
    put(out, uint64_t(job));
    fields(write, r);
    put(out, uint64_t(r.first_bad.size()));
    for (const std::string& line : r.first_bad) put(out, line);
  }
  put(out, uint64_t(s.declined.size()));
  for (const Declined& d : s.declined) put(out, d.case_id), put(out, d.backend), put(out, d.why);
  return out;
}

void decode_into(std::string_view bytes, Share& into) {
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
    Declined d;
    in.get(d.case_id), in.get(d.backend), in.get(d.why);
    into.declined.push_back(std::move(d));
  }
  if (!in.done()) throw std::runtime_error("trailing bytes in a result message");
}

namespace {

#if defined(ULPGATE_HAVE_MPI)
void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(call) + " failed: " + std::string(text, size_t(len)));
}
#define ULPGATE_MPI_CHECK(call) check((call), #call)

#endif

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") || std::getenv("PMI_SIZE");
}

}  // namespace

std::string pack(const std::vector<std::string>& parts) {
  std::string out;
  put(out, uint64_t(parts.size()));
  for (const std::string& p : parts) put(out, p);
  return out;
}

std::vector<std::string> unpack(std::string_view blob) {
  Reader in(blob);
  uint64_t n = 0;
  in.get(n);
  std::vector<std::string> parts(n);
  for (std::string& p : parts) in.get(p);
  if (!in.done()) throw std::runtime_error("mpi: trailing bytes in a message");
  return parts;
}

const Processes& processes() {
  static const Processes p = [] {
    Processes out;
#if defined(ULPGATE_HAVE_MPI)
    if (!launched_by_mpirun()) return out;
    ULPGATE_MPI_CHECK(MPI_Init(nullptr, nullptr));
    std::atexit([] { MPI_Finalize(); });
    ULPGATE_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &out.rank));
    ULPGATE_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &out.size));
#else
    // Each process would run the whole sweep and report it: refuse rather than repeat the work.
    const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
    if (launched_by_mpirun() && !(size && std::strcmp(size, "1") == 0))
      throw UsageError("launched by mpirun, but this ulpgate was built without MPI (-DULPGATE_WITH_MPI=ON)");
#endif
    return out;
  }();
  return p;
}

namespace {

// Every process's blob, in rank order, at rank 0 (to_all false: the others get nothing) or at
// every process.
std::vector<std::string> collect(const std::string& mine, bool to_all) {
  const Processes& p = processes();
  if (p.size == 1) return {mine};
  std::vector<std::string> out;
#if defined(ULPGATE_HAVE_MPI)
  const int bytes = int(mine.size());
  std::vector<int> sizes(size_t(p.size)), offsets(size_t(p.size));
  if (to_all) ULPGATE_MPI_CHECK(MPI_Allgather(&bytes, 1, MPI_INT, sizes.data(), 1, MPI_INT, MPI_COMM_WORLD));
  else ULPGATE_MPI_CHECK(MPI_Gather(&bytes, 1, MPI_INT, sizes.data(), 1, MPI_INT, 0, MPI_COMM_WORLD));
  int total = 0;
  for (size_t r = 0; r < sizes.size(); ++r) offsets[r] = total, total += sizes[r];
  const bool receives = to_all || p.root();
  std::string received(receives ? size_t(total) : 0, '\0');
  if (to_all)
    ULPGATE_MPI_CHECK(MPI_Allgatherv(mine.data(), bytes, MPI_BYTE, received.data(), sizes.data(), offsets.data(), MPI_BYTE,
                                     MPI_COMM_WORLD));
  else
    ULPGATE_MPI_CHECK(MPI_Gatherv(mine.data(), bytes, MPI_BYTE, received.data(), sizes.data(), offsets.data(), MPI_BYTE, 0,
                                  MPI_COMM_WORLD));
  if (receives)
    for (size_t r = 0; r < sizes.size(); ++r) out.push_back(received.substr(size_t(offsets[r]), size_t(sizes[r])));
#endif
  return out;
}

}  // namespace

std::vector<std::string> gather_blobs(const std::string& mine) { return collect(mine, false); }
std::vector<std::string> exchange_blobs(const std::string& mine) { return collect(mine, true); }

Share gather(const Share& mine) {
  const Processes& p = processes();
  if (p.size == 1) return mine;
  Share all;
  std::string ran;
  for (const std::string& blob : gather_blobs(encode(mine))) {
    const size_t before = all.results.size();
    decode_into(blob, all);
    ran += (ran.empty() ? "" : " + ") + std::to_string(all.results.size() - before);
  }
  if (!p.root()) return all;
  std::printf("mpi: %d processes returned %s results\n", p.size, ran.c_str());
  std::sort(all.results.begin(), all.results.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return all;
}

std::vector<std::byte*> shared_segments(size_t bytes) {
  const Processes& p = processes();
  (void)bytes;  // without MPI there is nothing to allocate
#if defined(ULPGATE_HAVE_MPI)
  static std::map<size_t, std::vector<std::byte*>> windows;
  if (auto it = windows.find(bytes); it != windows.end()) return it->second;
  if (p.size > 1) {
    MPI_Comm node;
    ULPGATE_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
    int node_size = 0;
    ULPGATE_MPI_CHECK(MPI_Comm_size(node, &node_size));
    if (node_size != p.size) throw std::runtime_error("mpi: shared memory needs every process on one host");
    void* base = nullptr;
    MPI_Win win;
    ULPGATE_MPI_CHECK(MPI_Win_allocate_shared(MPI_Aint(bytes), 1, MPI_INFO_NULL, node, &base, &win));
    std::memset(base, 0, bytes);
    std::vector<std::byte*> segments;
    for (int r = 0; r < p.size; ++r) {
      MPI_Aint size = 0;
      int unit = 0;
      void* at = nullptr;
      ULPGATE_MPI_CHECK(MPI_Win_shared_query(win, r, &size, &unit, &at));
      segments.push_back(static_cast<std::byte*>(at));
    }
    ULPGATE_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));  // every segment zeroed before anyone uses it
    return windows[bytes] = segments;
  }
#endif
  throw std::runtime_error("shared_segments: " + std::to_string(p.size) + " process (not launched by mpirun)");
}

}  // namespace ulpgate
