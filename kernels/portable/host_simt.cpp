#include "kernels/portable/host_simt.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <boost/context/fiber.hpp>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
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

// One mapping with a slot per thread of a block, each with a guard page below its stack, so a
// kernel that overflows its stack faults instead of corrupting a neighbour. Mapped once per
// worker and reused by every block (no system call per fiber).
class StackArena {
 public:
  StackArena(std::size_t stack_bytes, unsigned slots) {
    page_ = std::size_t(sysconf(_SC_PAGESIZE));
    slot_ = (stack_bytes + page_ - 1) / page_ * page_ + page_;
    bytes_ = slot_ * slots;
    void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<char*>(p);
    for (unsigned i = slots; i-- > 0;) {
      if (mprotect(base_ + i * slot_, page_, PROT_NONE) != 0) throw std::bad_alloc();
      free_.push_back(i);
    }
  }
  ~StackArena() { munmap(base_, bytes_); }
  StackArena(const StackArena&) = delete;
  StackArena& operator=(const StackArena&) = delete;

  ctx::stack_context allocate() {
    const unsigned i = free_.back();
    free_.pop_back();
    ctx::stack_context sc;
    sc.size = slot_ - page_;
    sc.sp = base_ + (i + 1) * slot_;  // stacks grow down from the slot's top
    return sc;
  }
  void deallocate(ctx::stack_context& sc) {
    free_.push_back(unsigned((static_cast<char*>(sc.sp) - base_) / slot_ - 1));
  }

 private:
  std::size_t page_ = 0, slot_ = 0, bytes_ = 0;
  char* base_ = nullptr;
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

struct Job {
  const Arch* arch;
  LaunchConfig cfg;
  KernelBody body;
  const void* kernel;
  unsigned blocks;
  std::atomic<unsigned> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;  // guards what follows
  unsigned error_block = ~0u;
  std::string error;
  LaunchStats stats;
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

// ---- threads and blocks -----------------------------------------------------------------------

enum class Wait : uint8_t { running, barrier, warp, exited };

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
  std::string error;      // what the kernel code threw
  bool abandon = false;   // unwind at the next resumption
  StackSpan stack, scheduler_stack;
  void* fake_stack = nullptr;

  unsigned lane() const { return rank % unsigned(warp_size); }
  void suspend() {
    asan_leaving(&fake_stack, scheduler_stack);
    scheduler = std::move(scheduler).resume();
    asan_arrived(fake_stack, &scheduler_stack);
    if (abandon) throw Abandoned{};
  }
  std::string state() const {
    switch (wait) {
      case Wait::running: return "running";
      case Wait::exited: return "exited";
      case Wait::barrier: return "wait at block_sync (" + site_str(site) + ")";
      case Wait::warp:
        return "wait at " + std::string(op_name(op)) + " width " + std::to_string(width) + " (" +
               site_str(site) + ")";
    }
    return "?";
  }
};

SimThread& current() { return static_cast<SimThread&>(*t_current); }

class BlockRunner {
 public:
  BlockRunner() : threads_(std::make_unique<SimThread[]>(kMaxBlockThreads)),
                  shared_(std::make_unique<std::byte[]>(kMaxSharedBytes)) {}

  void run_blocks(Job& job) {
    if (!stacks_) stacks_ = std::make_unique<StackArena>(kStackBytes, kMaxBlockThreads);
    LaunchStats stats;
    while (!job.failed.load(std::memory_order_relaxed)) {
      const unsigned b = job.next_block.fetch_add(1);
      if (b >= job.blocks) break;
      try {
        stats.thread_steps += run_block(job, b);
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
  uint64_t run_block(Job& job, unsigned b) {
    const LaunchConfig& cfg = job.cfg;
    const unsigned n = cfg.block.count();
    block_idx_ = unflatten(b, cfg.grid);
    static_arrays_.clear();
    shared_used_ = cfg.shared_bytes;
    std::memset(shared_.get(), 0xff, cfg.shared_bytes);
    for (unsigned r = 0; r < n; ++r) start_thread(job, r);
    uint64_t steps = 0;
    try {
      for (;;) {
        for (unsigned r = 0; r < n; ++r) steps += resume_if_running(threads_[r]);
        throw_thread_error(n);
        if (resolve_warp_groups(n) || release_barrier(n)) continue;
        if (all_exited(n)) return steps;
        throw KernelError(diagnose(n));
      }
    } catch (...) {
      abandon_waiting_threads(n);
      throw;
    }
  }

  void start_thread(Job& job, unsigned r) {
    SimThread& t = threads_[r];
    t.thread_idx = unflatten(r, job.cfg.block);
    t.block_idx = block_idx_;
    t.block_dim = job.cfg.block;
    t.grid_dim = job.cfg.grid;
    t.rank = r;
    t.warp_size = job.arch->warp_size;
    t.arch = job.arch;
    t.runner = this;
    t.wait = Wait::running;
    t.error.clear();
    t.abandon = false;
    t.fiber = ctx::fiber(std::allocator_arg, ArenaAllocator{stacks_.get(), &t.stack},
                         [&t, &job](ctx::fiber&& scheduler) {
                           asan_arrived(nullptr, &t.scheduler_stack);
                           t.scheduler = std::move(scheduler);
                           try {
                             job.body(job.kernel);
                           } catch (const Abandoned&) {
                           } catch (const ctx::detail::forced_unwind&) {
                             throw;  // Boost.Context unwinding a destroyed fiber
                           } catch (const std::exception& e) {
                             t.error = e.what();
                           } catch (...) {
                             t.error = "unknown exception";
                           }
                           t.wait = Wait::exited;
                           asan_leaving(nullptr, t.scheduler_stack);  // this stack is done
                           return std::move(t.scheduler);
                         });
  }

  static unsigned resume_if_running(SimThread& t) {
    if (t.wait != Wait::running) return 0;
    resume(t);
    return 1;
  }

  static void resume(SimThread& t) {
    t_current = &t;
    void* fake_stack = nullptr;
    asan_leaving(&fake_stack, t.stack);
    t.fiber = std::move(t.fiber).resume();
    asan_arrived(fake_stack, nullptr);
    t_current = nullptr;
  }

  // After an error: every thread still waiting unwinds its stack (destructors run) and exits.
  void abandon_waiting_threads(unsigned n) {
    for (unsigned r = 0; r < n; ++r) {
      SimThread& t = threads_[r];
      if (!t.fiber) continue;
      t.abandon = true;
      resume(t);
    }
  }

  std::string block_name() const { return "block " + dim_str(block_idx_); }

  void throw_thread_error(unsigned n) const {
    for (unsigned r = 0; r < n; ++r)
      if (!threads_[r].error.empty())
        throw KernelError(block_name() + ", thread " + std::to_string(r) + " " +
                          dim_str(threads_[r].thread_idx) + ": " + threads_[r].error);
  }

  bool all_exited(unsigned n) const {
    for (unsigned r = 0; r < n; ++r)
      if (threads_[r].wait != Wait::exited) return false;
    return true;
  }

  // Whether threads a and b wait at the same warp operation.
  bool same_warp_op(const SimThread& a, const SimThread& b) const {
    return b.wait == Wait::warp && b.op == a.op && b.width == a.width && same_site(a.site, b.site);
  }

  // First rank of t's width-group (the group may reach past the block's last thread).
  static unsigned group_start(const SimThread& t) {
    return t.rank - t.lane() + (t.lane() & ~unsigned(t.width - 1));
  }

  bool group_complete(unsigned start, unsigned n) const {
    const SimThread& lead = threads_[start];
    if (start + unsigned(lead.width) > n) return false;
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

  uint64_t result_of(const SimThread& t, unsigned n) const {
    if (t.op == WarpOp::ballot) {
      uint64_t bits = 0;
      const unsigned start = group_start(t);
      for (unsigned i = 0; i < unsigned(t.width); ++i)
        bits |= uint64_t(threads_[start + i].value != 0) << i;
      return bits;
    }
    const unsigned src = source_of(t);
    if (src >= n || !same_warp_op(t, threads_[src]))
      throw KernelError(block_name() + ": " + op_name(t.op) + " at " + site_str(t.site) +
                        ": thread " + std::to_string(t.rank) + " reads thread " +
                        std::to_string(src) + ", which does not take part");
    return threads_[src].value;
  }

  // Completes every width-group whose lanes all wait at the same warp operation.
  bool resolve_warp_groups(unsigned n) {
    std::vector<unsigned>& ready = ready_groups_;
    ready.clear();
    for (unsigned r = 0; r < n; ++r) {
      const SimThread& t = threads_[r];
      if (t.wait == Wait::warp && group_start(t) == r && group_complete(r, n)) ready.push_back(r);
    }
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].result = result_of(threads_[r], n);
    for (unsigned start : ready)
      for (unsigned r = start; r < start + unsigned(threads_[start].width); ++r)
        threads_[r].wait = Wait::running;
    return !ready.empty();
  }

  bool release_barrier(unsigned n) {
    for (unsigned r = 0; r < n; ++r)
      if (threads_[r].wait != Wait::barrier || !same_site(threads_[r].site, threads_[0].site))
        return false;
    for (unsigned r = 0; r < n; ++r) threads_[r].wait = Wait::running;
    return true;
  }

  // "threads 0-4 wait at block_sync (k.cpp:12); threads 5-31 exited"
  std::string describe(unsigned from, unsigned to, unsigned n) const {
    std::string out;
    unsigned r = from;
    while (r < to && r < n) {
      const std::string s = threads_[r].state();
      unsigned e = r + 1;
      while (e < to && e < n && threads_[e].state() == s) ++e;
      out += (out.empty() ? "" : "; ") + std::string(e - r > 1 ? "threads " : "thread ") +
             std::to_string(r) + (e - r > 1 ? "-" + std::to_string(e - 1) : "") + " " + s;
      r = e;
    }
    if (to > n)
      out += "; threads " + std::to_string(n) + "-" + std::to_string(to - 1) +
             " do not exist (the block has " + std::to_string(n) + " threads)";
    return out;
  }

  // Nothing can complete: name the first stuck warp group, else the barrier.
  std::string diagnose(unsigned n) const {
    for (unsigned r = 0; r < n; ++r) {
      const SimThread& t = threads_[r];
      if (t.wait != Wait::warp) continue;
      const unsigned start = group_start(t), end = start + unsigned(t.width);
      return "kernel error in " + block_name() + ": " + op_name(t.op) + " (width " +
             std::to_string(t.width) + ") at " + site_str(t.site) +
             " is not reached by every lane of its group (warp " +
             std::to_string(r / unsigned(t.warp_size)) + ", threads " + std::to_string(start) +
             "-" + std::to_string(end - 1) + "): " + describe(start, end, n);
    }
    for (unsigned r = 0; r < n; ++r) {
      if (threads_[r].wait != Wait::barrier) continue;
      return "kernel error in " + block_name() + ": block_sync at " +
             site_str(threads_[r].site) + " is not reached by every thread of the block: " +
             describe(0, n, n);
    }
    return "kernel error in " + block_name() + ": no thread can make progress: " +
           describe(0, n, n);
  }

  std::unique_ptr<SimThread[]> threads_;
  std::unique_ptr<StackArena> stacks_;
  std::unique_ptr<std::byte[]> shared_;
  std::size_t shared_used_ = 0;
  std::vector<std::pair<const void*, void*>> static_arrays_;
  std::vector<unsigned> ready_groups_;
  Dim3 block_idx_;
};

// ---- the worker pool --------------------------------------------------------------------------

class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
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
    BlockRunner runner;  // its stacks and shared memory persist across launches
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(mutex_);
        if (!work_cv_.wait(lock, stop, [&] { return generation_ != seen; })) return;
        seen = generation_;
        job = job_;
      }
      runner.run_blocks(*job);
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

void check_aligned16(const void* p, const char* what) {
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    throw KernelError(std::string(what) + " of a misaligned address " + buf +
                      " (16-byte vector access)");
  }
}

LaunchStats launch_erased(const Arch& arch, const LaunchConfig& cfg, KernelBody body,
                          const void* kernel) {
  validate(arch, cfg);
  Job job;
  job.arch = &arch;
  job.cfg = cfg;
  job.body = body;
  job.kernel = kernel;
  job.blocks = cfg.grid.count();
  WorkerPool::instance().run(job);
  if (job.failed) throw KernelError(job.error);
  return job.stats;
}

void set_worker_count(unsigned workers) { WorkerPool::instance().set_size(workers); }
unsigned worker_count() { return WorkerPool::instance().size(); }

}  // namespace ulpgate::host_simt
