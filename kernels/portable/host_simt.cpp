#include "kernels/portable/host_simt.hpp"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/context/fiber.hpp>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace ulpgate::host_simt {

thread_local constinit ThreadState* t_current = nullptr;

namespace {

namespace ctx = boost::context;

// ---- fiber stacks and their switches ----------------------------------------------------------

struct StackSpan {
  const void* bottom = nullptr;
  std::size_t size = 0;
};

// AddressSanitizer must be told about every stack switch, or it reports false overflows.
#if defined(__SANITIZE_ADDRESS__)
void asan_leaving(void** fake_stack, const StackSpan& to) {
  __sanitizer_start_switch_fiber(fake_stack, to.bottom, to.size);
}
void asan_arrived(void* fake_stack, StackSpan* from) {
  __sanitizer_finish_switch_fiber(fake_stack, from ? &from->bottom : nullptr,
                                  from ? &from->size : nullptr);
}
#else
void asan_leaving(void**, const StackSpan&) {}
void asan_arrived(void*, StackSpan*) {}
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

// ---- one launch -------------------------------------------------------------------------------

// What the blocks of one launch (in a world launch: of one rank) run.
struct KernelRun {
  const Arch* arch;
  LaunchConfig cfg;
  KernelBody body;
  const void* kernel;
  std::optional<unsigned> world_rank;  // set in a world launch: errors name the rank
};

Dim3 unflatten(unsigned i, const Dim3& d) { return {i % d.x, i / d.x % d.y, i / (d.x * d.y)}; }

std::string dim_str(const Dim3& d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

std::string site_str(const std::source_location& s) {
  const char* file = std::strrchr(s.file_name(), '/');
  return std::string(file ? file + 1 : s.file_name()) + ":" + std::to_string(s.line());
}

bool same_site(const std::source_location& a, const std::source_location& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl: return "shfl";
    case WarpOp::shfl_up: return "shfl_up";
    case WarpOp::shfl_down: return "shfl_down";
    case WarpOp::shfl_xor: return "shfl_xor";
    case WarpOp::ballot: return "ballot/any/all";
  }
  return "?";
}

// "1 rank", "4 ranks"
std::string count_str(std::size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string address_str(const void* p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
}

// Flags may be written by other OS threads (another process's stand-in, a test's writer), so
// every access is atomic: release stores, acquire loads.
uint32_t load_flag(const uint32_t* p) {
  return std::atomic_ref<uint32_t>(*const_cast<uint32_t*>(p)).load(std::memory_order_acquire);
}

// ---- threads and blocks -----------------------------------------------------------------------

enum class Wait : uint8_t { running, barrier, warp, flag, exited };

class BlockRunner;

struct SimThread : ThreadState {
  BlockRunner* runner = nullptr;
  ctx::fiber fiber;      // the suspended thread; empty once it exited
  ctx::fiber scheduler;  // the block runner, while this thread runs
  Wait wait = Wait::running;
  std::source_location site;
  WarpOp op = WarpOp::shfl;
  int operand = 0, width = 0;
  uint64_t value = 0, result = 0;
  const uint32_t* flag = nullptr;  // Wait::flag: until *flag == flag_value
  uint32_t flag_value = 0;
  std::string error;      // what the kernel code threw
  bool abandon = false;   // unwind at the next resumption (or, not yet started, never run)
  StackSpan stack, scheduler_stack;
  void* fake_stack = nullptr;

  unsigned lane() const { return rank % unsigned(warp_size); }
  void suspend() {
    asan_leaving(&fake_stack, scheduler_stack);
    scheduler = std::move(scheduler).resume();
    asan_arrived(fake_stack, &scheduler_stack);
    if (abandon) throw Abandoned{};
  }
  bool flag_set() const { return load_flag(flag) == flag_value; }
  std::string state() const {
    switch (wait) {
      case Wait::running: return "running";
      case Wait::exited: return "exited";
      case Wait::barrier: return "wait at block_sync (" + site_str(site) + ")";
      case Wait::warp:
        return "wait at " + std::string(op_name(op)) + " width " + std::to_string(width) + " (" +
               site_str(site) + ")";
      case Wait::flag:
        return "wait at wait_flag (" + site_str(site) + ") for " + std::to_string(flag_value) +
               ", the flag holds " + std::to_string(load_flag(flag));
    }
    return "?";
  }
};

SimThread& current() { return static_cast<SimThread&>(*t_current); }

// One block of fibers. start() creates them; run_until_stalled() runs them as far as they can go
// and may be called again once something outside the block changed (a flag).
class BlockRunner {
 public:
  BlockRunner() : shared_(std::make_unique_for_overwrite<std::byte[]>(kMaxSharedBytes)) {}

  // Creates the threads of block b of `run`, stacks from `stacks`; none has run yet. The runner
  // must be idle (its last block exited or abandoned).
  void start(const KernelRun& run, unsigned b, StackArena& stacks) {
    const unsigned n = run.cfg.block.count();
    reserve_threads(n);
    run_ = &run;
    stacks_ = &stacks;
    n_ = n;
    block_idx_ = unflatten(b, run.cfg.grid);
    static_arrays_.clear();
    shared_used_ = run.cfg.shared_bytes;
    std::memset(shared_.get(), 0xff, run.cfg.shared_bytes);
    for (unsigned r = 0; r < n; ++r) start_thread(r);
  }

  // Runs every thread that can run, completing sync points, until each thread has exited or waits
  // at something that cannot complete now. Returns the thread steps taken (0: no progress). A
  // thread's error throws KernelError; the caller then abandons the block.
  uint64_t run_until_stalled() {
    uint64_t steps = 0;
    do {
      for (unsigned r = 0; r < n_; ++r) steps += resume_if_running(threads_[r]);
      throw_thread_error();
    } while (resolve_warp_groups() || release_barrier() || release_flag_waits());
    return steps;
  }

  bool exited() const {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait != Wait::exited) return false;
    return true;
  }
  bool waits_on_flag() const { return first_waiting(Wait::flag) != nullptr; }

  // After an error: every thread still alive unwinds its stack (destructors run) and exits; one
  // that never ran exits without running the kernel.
  void abandon() {
    for (unsigned r = 0; r < n_; ++r) {
      SimThread& t = threads_[r];
      if (!t.fiber) continue;
      t.abandon = true;
      resume(t);
    }
  }

  // The stalled block as a kernel error (launch() reports it so).
  std::string diagnose() const { return "kernel error in " + stall_report(); }

  // Why nothing can complete: a flag wait, else the first stuck warp group, else the barrier.
  std::string stall_report() const {
    if (const SimThread* t = first_waiting(Wait::flag))
      return block_name() + ": wait_flag at " + site_str(t->site) + " waits for " +
             std::to_string(t->flag_value) + ", the flag holds " +
             std::to_string(load_flag(t->flag)) + ": " + describe(0, n_);
    if (const SimThread* t = first_waiting(Wait::warp)) {
      const unsigned start = group_start(*t), end = start + unsigned(t->width);
      return block_name() + ": " + op_name(t->op) + " (width " + std::to_string(t->width) +
             ") at " + site_str(t->site) + " is not reached by every lane of its group (warp " +
             std::to_string(t->rank / unsigned(t->warp_size)) + ", threads " +
             std::to_string(start) + "-" + std::to_string(end - 1) + "): " + describe(start, end);
    }
    if (const SimThread* t = first_waiting(Wait::barrier))
      return block_name() + ": block_sync at " + site_str(t->site) +
             " is not reached by every thread of the block: " + describe(0, n_);
    return block_name() + ": no thread can make progress: " + describe(0, n_);
  }

  void* static_shared(const void* tag, std::size_t bytes) {
    for (const auto& [t, p] : static_arrays_)
      if (t == tag) return p;
    const std::size_t at = (shared_used_ + 15) / 16 * 16;
    if (at + bytes > kMaxSharedBytes)
      throw KernelError("shared memory of the block exceeds " + std::to_string(kMaxSharedBytes) +
                        " bytes");
    void* p = shared_.get() + at;
    std::memset(p, 0xff, bytes);  // poison: reading before writing gives NaN, not zero
    shared_used_ = at + bytes;
    static_arrays_.emplace_back(tag, p);
    return p;
  }
  void* dynamic_shared() { return shared_.get(); }

 private:
  // Thread records for n threads (reallocated only between blocks: fibers point into them).
  void reserve_threads(unsigned n) {
    if (n <= capacity_) return;
    threads_ = std::make_unique<SimThread[]>(n);
    capacity_ = n;
  }

  void start_thread(unsigned r) {
    SimThread& t = threads_[r];
    const KernelRun& run = *run_;
    t.thread_idx = unflatten(r, run.cfg.block);
    t.block_idx = block_idx_;
    t.block_dim = run.cfg.block;
    t.grid_dim = run.cfg.grid;
    t.rank = r;
    t.warp_size = run.arch->warp_size;
    t.arch = run.arch;
    t.world_rank = run.world_rank.value_or(0);
    t.runner = this;
    t.wait = Wait::running;
    t.error.clear();
    t.abandon = false;
    t.fiber = ctx::fiber(std::allocator_arg, ArenaAllocator{stacks_, &t.stack},
                         [&t, &run](ctx::fiber&& scheduler) {
                           asan_arrived(nullptr, &t.scheduler_stack);
                           t.scheduler = std::move(scheduler);
                           if (!t.abandon) run_kernel(t, run);
                           t.wait = Wait::exited;
                           asan_leaving(nullptr, t.scheduler_stack);  // this stack is done
                           return std::move(t.scheduler);
                         });
  }

  static void run_kernel(SimThread& t, const KernelRun& run) {
    try {
      run.body(run.kernel);
    } catch (const Abandoned&) {
    } catch (const ctx::detail::forced_unwind&) {
      throw;  // Boost.Context unwinding a destroyed fiber
    } catch (const std::exception& e) {
      t.error = e.what();
    } catch (...) {
      t.error = "unknown exception";
    }
  }

  unsigned resume_if_running(SimThread& t) {
    if (t.wait != Wait::running) return 0;
    resume(t);
    return 1;
  }

  void resume(SimThread& t) {
    t_current = &t;
    void* fake_stack = nullptr;
    asan_leaving(&fake_stack, t.stack);
    t.fiber = std::move(t.fiber).resume();
    asan_arrived(fake_stack, nullptr);
    t_current = nullptr;
    if (!stacks_->intact_below(t.stack.bottom)) stack_overflow(t);
  }

  // The fence below a stack was overwritten: the fiber of the slot beneath may be corrupt, so
  // nothing can be unwound safely (as with a guard page's fault, the process ends).
  [[noreturn]] void stack_overflow(const SimThread& t) const {
    std::fprintf(stderr,
                 "host_simt: %s, thread %u overflowed its %zu-byte fiber stack; the stack below "
                 "it may be corrupt, aborting\n",
                 block_name().c_str(), t.rank, t.stack.size);
    std::abort();
  }

  std::string block_name() const {
    const std::string rank = run_->world_rank ? "rank " + std::to_string(*run_->world_rank) + " " : "";
    return rank + "block " + dim_str(block_idx_);
  }

  void throw_thread_error() const {
    for (unsigned r = 0; r < n_; ++r)
      if (!threads_[r].error.empty())
        throw KernelError(block_name() + ", thread " + std::to_string(r) + " " +
                          dim_str(threads_[r].thread_idx) + ": " + threads_[r].error);
  }

  const SimThread* first_waiting(Wait wait) const {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait == wait) return &threads_[r];
    return nullptr;
  }

  // Whether threads a and b wait at the same warp operation.
  bool same_warp_op(const SimThread& a, const SimThread& b) const {
    return b.wait == Wait::warp && b.op == a.op && b.width == a.width && same_site(a.site, b.site);
  }

  // First rank of t's width-group (the group may reach past the block's last thread).
  static unsigned group_start(const SimThread& t) {
    return t.rank - t.lane() + (t.lane() & ~unsigned(t.width - 1));
  }

  bool group_complete(unsigned start) const {
    const SimThread& lead = threads_[start];
    if (start + unsigned(lead.width) > n_) return false;
    for (unsigned r = start; r < start + unsigned(lead.width); ++r)
      if (!same_warp_op(lead, threads_[r])) return false;
    return true;
  }

  // The rank whose value lane t reads (CUDA/HIP rules: out-of-group sources read their own).
  unsigned source_of(const SimThread& t) const {
    const unsigned w = unsigned(t.width), lane = t.lane(), start = lane & ~(w - 1);
    const unsigned warp_base = t.rank - lane;
    unsigned src = lane;
    switch (t.op) {
      case WarpOp::shfl: src = start + (unsigned(t.operand) & (w - 1)); break;
      case WarpOp::shfl_up: src = int(lane) - t.operand < int(start) ? lane : lane - t.operand; break;
      case WarpOp::shfl_down: src = lane + t.operand >= start + w ? lane : lane + t.operand; break;
      case WarpOp::shfl_xor: src = (lane ^ unsigned(t.operand)) >= start + w ? lane : lane ^ t.operand; break;
      case WarpOp::ballot: break;
    }
    return warp_base + src;
  }

  uint64_t result_of(const SimThread& t) const {
    if (t.op == WarpOp::ballot) {
      uint64_t bits = 0;
      const unsigned start = group_start(t);
      for (unsigned i = 0; i < unsigned(t.width); ++i)
        bits |= uint64_t(threads_[start + i].value != 0) << i;
      return bits;
    }
    const unsigned src = source_of(t);
    if (src >= n_ || !same_warp_op(t, threads_[src]))
      throw KernelError(block_name() + ": " + op_name(t.op) + " at " + site_str(t.site) +
                        ": thread " + std::to_string(t.rank) + " reads thread " +
                        std::to_string(src) + ", which does not take part");
    return threads_[src].value;
  }

  // Completes every width-group whose lanes all wait at the same warp operation.
  bool resolve_warp_groups() {
    std::vector<unsigned>& ready = ready_groups_;
    ready.clear();
    for (unsigned r = 0; r < n_; ++r) {
      const SimThread& t = threads_[r];
      if (t.wait == Wait::warp && group_start(t) == r && group_complete(r)) ready.push_back(r);
    }
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].result = result_of(threads_[r]);
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].wait = Wait::running;
    return !ready.empty();
  }

  bool release_barrier() {
    for (unsigned r = 0; r < n_; ++r)
      if (threads_[r].wait != Wait::barrier || !same_site(threads_[r].site, threads_[0].site))
        return false;
    for (unsigned r = 0; r < n_; ++r) threads_[r].wait = Wait::running;
    return true;
  }

  // Wakes every thread whose flag now holds the value it waits for.
  bool release_flag_waits() {
    bool released = false;
    for (unsigned r = 0; r < n_; ++r) {
      SimThread& t = threads_[r];
      if (t.wait != Wait::flag || !t.flag_set()) continue;
      t.wait = Wait::running;
      released = true;
    }
    return released;
  }

  // "threads 0-4 wait at block_sync (k.cpp:12); threads 5-31 exited"
  std::string describe(unsigned from, unsigned to) const {
    std::string out;
    unsigned r = from;
    while (r < to && r < n_) {
      const std::string s = threads_[r].state();
      unsigned e = r + 1;
      while (e < to && e < n_ && threads_[e].state() == s) ++e;
      out += (out.empty() ? "" : "; ") + std::string(e - r > 1 ? "threads " : "thread ") +
             std::to_string(r) + (e - r > 1 ? "-" + std::to_string(e - 1) : "") + " " + s;
      r = e;
    }
    if (to > n_)
      out += "; threads " + std::to_string(n_) + "-" + std::to_string(to - 1) +
             " do not exist (the block has " + std::to_string(n_) + " threads)";
    return out;
  }

  std::unique_ptr<SimThread[]> threads_;
  unsigned capacity_ = 0, n_ = 0;
  const KernelRun* run_ = nullptr;
  StackArena* stacks_ = nullptr;
  std::unique_ptr<std::byte[]> shared_;
  std::size_t shared_used_ = 0;
  std::vector<std::pair<const void*, void*>> static_arrays_;
  std::vector<unsigned> ready_groups_;
  Dim3 block_idx_;
};

// ---- the worker pool --------------------------------------------------------------------------

struct Job {
  KernelRun run;
  unsigned blocks;
  std::atomic<unsigned> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards what follows
  unsigned error_block = ~0u;
  std::string error;
  LaunchStats stats;
};

// A worker's blocks: one at a time, each to its end, on stacks guarded by pages.
class BlockWorker {
 public:
  void run_blocks(Job& job) {
    if (!stacks_)
      stacks_ = std::make_unique<StackArena>(kStackBytes, kMaxBlockThreads, StackGuard::page);
    LaunchStats stats;
    while (!job.failed.load(std::memory_order_relaxed)) {
      const unsigned b = job.next_block.fetch_add(1);
      if (b >= job.blocks) break;
      try {
        stats.thread_steps += run_block(job.run, b);
        ++stats.blocks;
      } catch (const std::exception& e) {
        std::lock_guard lock(job.mutex);
        if (b < job.error_block) job.error_block = b, job.error = e.what();
        job.failed = true;
      }
    }
    std::lock_guard lock(job.mutex);
    job.stats.thread_steps += stats.thread_steps;
    job.stats.blocks += stats.blocks;
  }

 private:
  // Blocks of one launch are not co-resident here: a block that stalls is deadlocked.
  uint64_t run_block(const KernelRun& run, unsigned b) {
    runner_.start(run, b, *stacks_);
    try {
      const uint64_t steps = runner_.run_until_stalled();
      if (!runner_.exited()) throw KernelError(runner_.diagnose());
      return steps;
    } catch (...) {
      runner_.abandon();
      throw;
    }
  }

  BlockRunner runner_;  // its threads, stacks and shared memory persist across launches
  std::unique_ptr<StackArena> stacks_;
};

void after_fork_in_child(void (*handler)()) {
  if (const int rc = pthread_atfork(nullptr, nullptr, handler); rc != 0)
    throw std::system_error(rc, std::generic_category(), "pthread_atfork");
}

class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    static const bool forks_start_afresh = (after_fork_in_child(&start_afresh), true);
    (void)forks_start_afresh;
    return pool;
  }

  void set_size(unsigned n) {
    std::lock_guard launch(launch_mutex_);
    stop_workers();
    size_ = n == 0 ? 1 : n;
  }
  unsigned size() const { return size_; }

  void run(Job& job) {
    std::lock_guard launch(launch_mutex_);
    if (workers_.size() != size_) start_workers();
    std::unique_lock lock(mutex_);
    job_ = &job;
    active_ = unsigned(workers_.size());
    ++generation_;
    work_cv_.notify_all();
    done_cv_.wait(lock, [&] { return active_ == 0; });
    job_ = nullptr;
  }

 private:
  WorkerPool() : size_(std::max(1u, std::thread::hardware_concurrency())) {}
  explicit WorkerPool(unsigned size) : size_(size) {}

  // fork copies only the calling thread: a child (a case's process under --isolate) would wait
  // forever for workers that stayed in the parent, or on a lock one of them held. It gets a pool
  // of its own, built over the copy without destroying it (that would join threads it does not
  // have; what the copy owned is left behind).
  static void start_afresh() {
    WorkerPool& pool = instance();
    const unsigned size = pool.size_;
    ::new (static_cast<void*>(&pool)) WorkerPool(size);
  }

  void start_workers() {
    stop_workers();
    for (unsigned i = 0; i < size_; ++i)
      workers_.emplace_back([this, seen = generation_](std::stop_token stop) { work(stop, seen); });
  }
  void stop_workers() {
    for (auto& w : workers_) w.request_stop();
    workers_.clear();  // joins
  }

  // seen: the last launch before this worker started (generation_ only changes under
  // launch_mutex_, which start_workers holds).
  void work(std::stop_token stop, uint64_t seen) {
    BlockWorker worker;  // its stacks and shared memory persist across launches
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        if (!work_cv_.wait(lock, stop, [&] { return generation_ != seen; })) return;
        seen = generation_;
        job = job_;
      }
      worker.run_blocks(*job);
      std::lock_guard lock(mutex_);
      if (--active_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex launch_mutex_;  // one launch at a time
  std::mutex mutex_;
  std::condition_variable_any work_cv_;
  std::condition_variable done_cv_;
  Job* job_ = nullptr;
  uint64_t generation_ = 0;
  unsigned active_ = 0;
  unsigned size_;
  std::vector<std::jthread> workers_;
};

void validate(const Arch& arch, const LaunchConfig& cfg) {
  auto bad = [](const std::string& why) { throw std::invalid_argument("host launch: " + why); };
  if (arch.warp_size != 32 && arch.warp_size != 64)
    bad("warp size " + std::to_string(arch.warp_size) + " (must be 32 or 64)");
  if (cfg.grid.count() == 0) bad("empty grid " + dim_str(cfg.grid));
  if (cfg.block.count() == 0 || cfg.block.count() > kMaxBlockThreads)
    bad("block " + dim_str(cfg.block) + " must have 1.." + std::to_string(kMaxBlockThreads) +
        " threads");
  if (cfg.shared_bytes > kMaxSharedBytes)
    bad(std::to_string(cfg.shared_bytes) + " bytes of dynamic shared memory (max " +
        std::to_string(kMaxSharedBytes) + ")");
}

void validate_world(std::span<const void* const> kernels, const WorldOptions& options) {
  auto bad = [](const std::string& why) { throw std::invalid_argument("host launch_world: " + why); };
  if (kernels.empty()) bad("no ranks (a world needs at least one)");
  for (std::size_t r = 0; r < kernels.size(); ++r)
    if (!kernels[r]) bad("rank " + std::to_string(r) + " has no kernel (a null functor pointer)");
  for (std::size_t i = 0; i < options.regions.size(); ++i) {
    const RankRegion& region = options.regions[i];
    const std::string name =
        "region " + std::to_string(i) + " (rank " + std::to_string(region.rank) + ")";
    if (region.rank >= kernels.size())
      bad(name + ": the world has only " + std::to_string(kernels.size()) + " ranks");
    if (!region.begin || region.bytes == 0) bad(name + " is empty");
  }
  if (options.patience.count() < 0) bad("negative patience");
}

// ---- the world launch ---------------------------------------------------------------------------

// The blocks and stacks of one OS thread's world launches, kept for the next: a world needs all
// its blocks at once, so it cannot use the workers' one block each. Only one world runs on a
// thread at a time, so nothing here is shared.
class WorldPool {
 public:
  // `count` idle block runners.
  std::span<const std::unique_ptr<BlockRunner>> runners(std::size_t count) {
    while (runners_.size() < count) runners_.push_back(std::make_unique<BlockRunner>());
    return {runners_.data(), count};
  }
  // A fenced arena of at least `fibers` stacks (remapped when smaller: no fiber lives between
  // world launches).
  StackArena& stacks(std::size_t fibers) {
    if (!stacks_ || stacks_->slots() < fibers) {
      stacks_.reset();
      stacks_ = std::make_unique<StackArena>(kStackBytes, fibers, StackGuard::fence);
    }
    return *stacks_;
  }

 private:
  std::vector<std::unique_ptr<BlockRunner>> runners_;
  std::unique_ptr<StackArena> stacks_;
};

WorldPool& world_pool() {
  thread_local WorldPool pool;
  return pool;
}

class World;
thread_local constinit const World* t_world = nullptr;  // the world this OS thread runs

// One world launch: every rank's blocks, run pass after pass on the calling thread.
class World {
 public:
  World(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
        std::span<const void* const> kernels, const WorldOptions& options)
      : options_(options), grid_(cfg.grid.count()), live_blocks_(kernels.size(), grid_),
        rank_exited_(kernels.size(), false) {
    for (unsigned r = 0; r < kernels.size(); ++r)
      ranks_.push_back({&arch, cfg, body, kernels[r], r});
  }

  LaunchStats run() {
    const unsigned ranks = unsigned(ranks_.size());
    WorldPool& pool = world_pool();
    StackArena& stacks = pool.stacks(std::size_t(ranks) * grid_ * ranks_[0].cfg.block.count());
    blocks_ = pool.runners(std::size_t(ranks) * grid_);
    block_exited_.assign(blocks_.size(), false);
    const Running running(*this);
    LaunchStats stats;
    try {
      for (std::size_t i = 0; i < blocks_.size(); ++i)
        blocks_[i]->start(ranks_[i / grid_], unsigned(i % grid_), stacks);
      Stall stall;
      while (exited_ranks_ < ranks) {
        if (run_pass(stats)) {
          stall.active = false;
          continue;
        }
        if (!keep_polling(stall)) throw KernelError(deadlock_report());
        std::this_thread::sleep_for(kPollInterval);
      }
    } catch (...) {
      abandon();
      throw;
    }
    stats.blocks = blocks_.size();
    return stats;
  }

  // The hook of load16/store16: p must not lie in a region whose owner rank has exited.
  void check_access(const void* p, const char* what) const {
    if (exited_ranks_ == 0) return;
    const auto at = reinterpret_cast<uintptr_t>(p);
    for (const RankRegion& region : options_.regions) {
      const auto begin = reinterpret_cast<uintptr_t>(region.begin);
      if (!rank_exited_[region.rank] || at < begin || at - begin >= region.bytes) continue;
      const std::string owner = "rank " + std::to_string(region.rank);
      throw KernelError(std::string(what) + " of " + owner + "'s region at offset " +
                        std::to_string(at - begin) + " after every block of " + owner +
                        " exited: nothing orders this access before " + owner +
                        "'s kernel returned (a missing end barrier)");
    }
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kPollInterval = std::chrono::microseconds(100);
  // The load16/store16 hook sees this world while it runs (fibers unwinding included).
  struct Running {
    explicit Running(const World& w) { t_world = &w; }
    ~Running() { t_world = nullptr; }
  };
  struct Stall {  // since when no pass made progress
    bool active = false;
    Clock::time_point since{};
  };

  // One pass over every live block, rank by rank, each as far as it can go; whether any moved.
  bool run_pass(LaunchStats& stats) {
    bool progressed = false;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (block_exited_[i]) continue;
      const uint64_t steps = blocks_[i]->run_until_stalled();
      stats.thread_steps += steps;
      progressed |= steps > 0;
      if (blocks_[i]->exited()) note_block_exited(i);
    }
    return progressed;
  }

  void note_block_exited(std::size_t i) {
    block_exited_[i] = true;
    const std::size_t rank = i / grid_;
    if (--live_blocks_[rank] > 0) return;
    rank_exited_[rank] = true;
    ++exited_ranks_;
  }

  // Whether a stalled world polls again: another process may still set a flag it waits for.
  bool keep_polling(Stall& stall) const {
    if (options_.patience.count() == 0 || !any_flag_wait()) return false;
    const auto now = Clock::now();
    if (!stall.active) stall = {true, now};
    return now - stall.since < options_.patience;
  }

  bool any_flag_wait() const {
    for (std::size_t i = 0; i < blocks_.size(); ++i)
      if (!block_exited_[i] && blocks_[i]->waits_on_flag()) return true;
    return false;
  }

  // A block stuck with no thread waiting for a flag cannot proceed whatever the others do (a
  // block_sync or warp op misuse): it is reported as launch() reports it. Otherwise the world is
  // deadlocked on its flags: the first stuck block is named.
  std::string deadlock_report() const {
    const BlockRunner* first = nullptr;
    std::size_t stuck = 0;
    for (std::size_t i = 0; i < blocks_.size(); ++i) {
      if (block_exited_[i]) continue;
      if (!blocks_[i]->waits_on_flag()) return blocks_[i]->diagnose();
      if (!first) first = blocks_[i].get();
      ++stuck;
    }
    const std::string waited =
        options_.patience.count() > 0
            ? " after polling the flags for " + std::to_string(options_.patience.count()) + " ms"
            : "";
    return "kernel error: deadlock in a world of " + count_str(ranks_.size(), "rank") +
           ": no block can make progress" + waited + " (" + count_str(stuck, "block") +
           " stuck); the first: " + first->stall_report();
  }

  // After an error: every block's live threads unwind (a block that exited has none).
  void abandon() {
    for (const auto& block : blocks_) block->abandon();
  }

  const WorldOptions& options_;
  std::size_t grid_;
  std::vector<KernelRun> ranks_;
  // Rank-major: rank r's block b at r * grid_ + b.
  std::span<const std::unique_ptr<BlockRunner>> blocks_;
  std::vector<bool> block_exited_;
  std::vector<std::size_t> live_blocks_;  // per rank
  std::vector<bool> rank_exited_;
  unsigned exited_ranks_ = 0;
};

}  // namespace

// ---- the hooks device.hpp calls -----------------------------------------------------------------

void block_sync(const std::source_location& site) {
  SimThread& t = current();
  t.wait = Wait::barrier;
  t.site = site;
  t.suspend();
}

uint64_t warp_exchange(WarpOp op, uint64_t value, int operand, int width,
                       const std::source_location& site) {
  SimThread& t = current();
  if (width < 1 || width > t.warp_size || (width & (width - 1)) != 0)
    throw KernelError(std::string(op_name(op)) + " at " + site_str(site) + ": width " +
                      std::to_string(width) + " is not a power of two <= the warp size " +
                      std::to_string(t.warp_size));
  t.wait = Wait::warp;
  t.site = site;
  t.op = op;
  t.operand = operand;
  t.width = width;
  t.value = value;
  t.suspend();
  return t.result;
}

void* static_shared(const void* tag, std::size_t bytes) {
  return current().runner->static_shared(tag, bytes);
}

void* dynamic_shared() { return current().runner->dynamic_shared(); }

void check_vector_access(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0)
    throw KernelError(std::string(what) + " of a misaligned address " + address_str(p) +
                      " (16-byte vector access)");
  if (t_world) t_world->check_access(p, what);
}

namespace {
// A flag is a naturally aligned 32-bit word (std::atomic_ref and the GPUs' atomics need that).
void check_flag_address(const uint32_t* p, const std::string& what) {
  if (!p || reinterpret_cast<uintptr_t>(p) % alignof(uint32_t) != 0)
    throw KernelError(what + " of a null or misaligned flag address " + address_str(p));
}
}  // namespace

void store_flag(uint32_t* p, uint32_t v) {
  check_flag_address(p, "store_flag");
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}

void wait_flag(const uint32_t* p, uint32_t v, const std::source_location& site) {
  check_flag_address(p, "wait_flag at " + site_str(site));
  if (load_flag(p) == v) return;  // already set: nothing to wait for
  if (!t_current)
    throw std::logic_error("dev::wait_flag at " + site_str(site) + " outside a kernel launch");
  SimThread& t = current();
  t.wait = Wait::flag;
  t.site = site;
  t.flag = p;
  t.flag_value = v;
  t.suspend();
}

LaunchStats launch_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                          const void* kernel) {
  validate(arch, cfg);
  Job job;
  job.run = {&arch, cfg, body, kernel, std::nullopt};
  job.blocks = cfg.grid.count();
  WorkerPool::instance().run(job);
  if (job.failed) throw KernelError(job.error);
  return job.stats;
}

LaunchStats launch_world_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                                std::span<const void* const> kernels, const WorldOptions& options) {
  validate(arch, cfg);
  validate_world(kernels, options);
  if (t_world) throw std::logic_error("host launch_world: called from kernel code of a world launch");
  World world(arch, cfg, body, kernels, options);
  return world.run();
}

void set_worker_count(unsigned workers) { WorkerPool::instance().set_size(workers); }
unsigned worker_count() { return WorkerPool::instance().size(); }

}  // namespace ulpgate::host_simt
