#include "harness/core/guarded_outputs.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <new>

namespace ulpgate {
namespace {

std::size_t page_size() {
  static const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
  return page;
}

std::size_t round_up(std::size_t n, std::size_t to) { return (n + to - 1) / to * to; }

}  // namespace

GuardedOutputs::~GuardedOutputs() {
  for (const Region& r : regions_) munmap(r.mapping, r.mapping_bytes);
}

std::byte* GuardedOutputs::map(std::string name, std::size_t bytes) {
  // The data starts on a page after the front guard (every kernel's alignment holds); the back
  // guard runs to the end of its page; a fence page on each side.
  const std::size_t page = page_size(), front = round_up(guard::kBytes, page);
  const std::size_t back = round_up(bytes + guard::kBytes, page) - bytes;
  const std::size_t total = page + front + bytes + back + page;
  void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  auto* mapping = static_cast<std::byte*>(m);
  if (mprotect(mapping, page, PROT_NONE) != 0 || mprotect(mapping + total - page, page, PROT_NONE) != 0) {
    munmap(m, total);
    throw std::bad_alloc();
  }
  std::byte* data = mapping + page + front;
  guard::fill({data - front, front}, {data + bytes, back});
  regions_.push_back({std::move(name), mapping, total, data, bytes});
  return data;
}

std::vector<guard::Violation> GuardedOutputs::violations() const {
  std::vector<guard::Violation> out;
  const std::size_t page = page_size(), front = round_up(guard::kBytes, page);
  for (const Region& r : regions_) {
    const std::size_t back = r.mapping_bytes - 2 * page - front - r.bytes;
    for (guard::Violation& v : guard::check(r.name, int64_t(r.bytes), {r.data - front, front}, {r.data + r.bytes, back}))
      out.push_back(std::move(v));
  }
  return out;
}

std::vector<std::span<const std::byte>> GuardedOutputs::parts() const {
  std::vector<std::span<const std::byte>> out;
  for (const Region& r : regions_) out.emplace_back(r.data, r.bytes);
  return out;
}

std::vector<std::byte> GuardedOutputs::bytes() const {
  std::vector<std::byte> out;
  for (const auto part : parts()) out.insert(out.end(), part.begin(), part.end());
  return out;
}

}  // namespace ulpgate
