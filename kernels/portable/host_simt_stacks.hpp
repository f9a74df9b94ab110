// Internal to host_simt.cpp: the fibers' stacks. One mapping of stack slots per worker (or world
// launch), each slot guarded so an overflowing kernel is caught, and the calls that tell
// AddressSanitizer about every stack switch.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <boost/context/fiber.hpp>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ulpgate::host_simt::detail {

namespace ctx = boost::context;

// ---- fiber stacks and their switches ----------------------------------------------------------

struct StackSpan {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// AddressSanitizer must be told about every stack switch, or it reports false overflows.
#if defined(__SANITIZE_ADDRESS__)
inline void asan_leaving(void** fake_stack, const StackSpan& to) {
  __sanitizer_start_switch_fiber(fake_stack, to.bottom, to.size);
}
inline void asan_arrived(void* fake_stack, StackSpan* from) {
  __sanitizer_finish_switch_fiber(fake_stack, from ? &from->bottom : nullptr,
                                  from ? &from->size : nullptr);
}
#else
inline void asan_leaving(void**, const StackSpan&) {}
inline void asan_arrived(void*, StackSpan*) {}
#endif

// Thrown inside a waiting fiber to unwind it when its block is abandoned after an error.
struct Abandoned {};

// ---- fiber stacks ---------------------------------------------------------------------------

// How an arena catches a fiber that overflows its stack.
enum class StackGuard : uint8_t {
  // A PROT_NONE page below each stack: the overflow faults at once. Each guard splits the mapping,
  // and Linux allows a process about 65530 mappings: for the workers' one block each.
  page,
  // A pattern just below each stack (the top bytes of the slot beneath, a page that slot's fiber
  // touches anyway), checked whenever the fiber yields: for world launches, whose tens of
  // thousands of stacks would exhaust the mappings. One guard page lies below the first stack.
  fence,
};

// One mapping with a slot per fiber, so a kernel that overflows its stack is caught instead of
// corrupting a neighbour. Mapped once and reused by every block (no system call per fiber).
class StackArena {
 public:
  StackArena(std::size_t stack_bytes, std::size_t slots, StackGuard guard)
      : guard_(guard), slots_(slots) {
    page_ = std::size_t(sysconf(_SC_PAGESIZE));
    const std::size_t below = guard == StackGuard::page ? page_ : kFenceBytes;
    slot_ = round_to_pages(stack_bytes + below);
    stack_size_ = slot_ - below;
    bytes_ = slots * slot_ + (guard == StackGuard::fence ? page_ : 0);  // the lead guard page
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      const int error = errno;
      fail("map " + std::to_string(bytes_ >> 20) + " MiB", error);
    }
    base_ = static_cast<char*>(p);
    first_ = base_ + page_;  // above the first guard page
    for (std::size_t i = slots; i-- > 0;) free_.push_back(unsigned(i));
    protect_guards();
  }
  ~StackArena() { unmap(); }
  StackArena(const StackArena&) = delete;
  StackArena& operator=(const StackArena&) = delete;

  std::size_t slots() const { return slots_; }

  ctx::stack_context allocate() {
    if (free_.empty()) throw std::logic_error("host_simt: every fiber stack of the arena is in use");
    const unsigned i = free_.back();
    free_.pop_back();
    if (guard_ == StackGuard::fence && i > 0)
      std::memcpy(bottom(i) - kFenceBytes, kFence.data(), kFenceBytes);
    ctx::stack_context sc;
    sc.size = stack_size_;
    sc.sp = bottom(i) + stack_size_;  // stacks grow down from the slot's top
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    free_.push_back(unsigned((static_cast<char*>(sc.sp) - sc.size - first_) / slot_));
  }

  // Whether the fence below this stack still holds its pattern (always, where a page guards it).
  bool intact_below(const void* stack_bottom) const {
    const auto* b = static_cast<const char*>(stack_bottom);
    if (guard_ == StackGuard::page || b == first_) return true;  // the first: a guard page
    return std::memcmp(b - kFenceBytes, kFence.data(), kFenceBytes) == 0;
  }

 private:
  static constexpr std::size_t kFenceBytes = 64;
  static constexpr auto kFence = [] {
    std::array<unsigned char, kFenceBytes> f{};
    f.fill(0xf5);
    return f;
  }();

  // Fiber frames that never returned (abandoned blocks, a world's unwound ranks) leave ASan's stack
  // poison on these pages; a later mapping at the same addresses would inherit it, so clear it.
  void unmap() {
#if defined(__SANITIZE_ADDRESS__)
    __asan_unpoison_memory_region(base_, bytes_);
#endif
    munmap(base_, bytes_);
  }

  std::size_t round_to_pages(std::size_t bytes) const { return (bytes + page_ - 1) / page_ * page_; }
  char* bottom(std::size_t i) const { return first_ + i * slot_; }

  void protect_guards() {
    const std::size_t guards = guard_ == StackGuard::page ? slots_ : 1;
    for (std::size_t i = 0; i < guards; ++i)
      if (mprotect(bottom(i) - page_, page_, PROT_NONE) != 0) {
        const int error = errno;
        unmap();
        fail("protect the guard pages", error);
      }
  }
  [[noreturn]] void fail(const std::string& what, int error) const {
    throw std::runtime_error("host_simt: cannot " + what + " for " + std::to_string(slots_) +
                             " fiber stacks: " + std::strerror(error));
  }

  StackGuard guard_;
  std::size_t slots_, page_ = 0, slot_ = 0, stack_size_ = 0, bytes_ = 0;
  char* base_ = nullptr;
  char* first_ = nullptr;  // the bottom of the first stack
  std::vector<unsigned> free_;
};

struct ArenaAllocator {  // Boost.Context's StackAllocator concept
  StackArena* arena;
  StackSpan* allocated;  // where the fiber's stack lies, for the sanitizer
  ctx::stack_context allocate() {
    ctx::stack_context sc = arena->allocate();
    *allocated = {static_cast<char*>(sc.sp) - sc.size, sc.size};
    return sc;
  }
  void deallocate(ctx::stack_context& sc) { arena->deallocate(sc); }
};

}  // namespace ulpgate::host_simt::detail
