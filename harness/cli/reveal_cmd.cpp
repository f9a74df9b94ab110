// `ulpgate reveal`: the summation order of a black-box kernel from designed inputs
// (harness/gemm/reveal.hpp says how and what it costs).
#include <cstdio>

#include "harness/allreduce/allreduce_case.hpp"
#include "harness/allreduce/reveal.hpp"
#include "harness/cli/command.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/reveal.hpp"

namespace ulpgate::cli {

void add_reveal_commands(CLI::App& app, int& rc) {
  static std::string case_id, backend = "host", arch;
  auto* cmd = app.add_subcommand(
      "reveal",
      "recover a kernel's summation order from designed inputs (FPRev's swamping: +L, -L and units). GEMM: one call "
      "per probe over N windows of K, regular runs galloped (O(levels x log K) probes); then the model rows with "
      "that tree, replayed on the case's operands. All-reduce: one call per pair of ranks (W(W-1)/2), the tree per "
      "element and output rank against the variant's documented order. Every call runs twice: bits that differ "
      "mean non-deterministic, and no order is given");
  cmd->add_option("--case", case_id,
                  "a gemm or allreduce case id: its op, profile or variant, formats and shape (the input and seed are "
                  "not used)")
      ->required();
  cmd->add_option("--backend", backend, "the kernel under test (host, cuda, vendor, plugin:PATH)");
  cmd->add_option("--arch", arch, "its arch (default: the backend's first); selects the plausible model rows");
  cmd->callback([&] {
    const std::string a = arch.empty() ? default_archs(backend).front() : arch;
    const std::unique_ptr<Backend> b = make_backend(backend, a);
    const auto show = [&](const std::string& id, const auto& revealed) {
      std::printf("reveal %s on %s\n%s", id.c_str(), b->name().c_str(), revealed.story().c_str());
      rc = revealed.deterministic && revealed.problem.empty() ? kPass : kFail;
    };
    if (case_id.starts_with("allreduce/")) {
      const allreduce::Case c = allreduce::Case::parse(case_id);
      show(c.id(), allreduce::reveal_allreduce(c.spec, *b));
      return;
    }
    const gemm::Case c = gemm::Case::parse(case_id);
    require_supported(*b, c.spec);
    show(c.id(), gemm::reveal_gemm(c.spec, *b, a));
  });
}

}  // namespace ulpgate::cli
