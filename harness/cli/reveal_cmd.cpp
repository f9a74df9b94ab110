// `ulpgate reveal`: the summation order of a black-box kernel from designed inputs
// (harness/gemm/reveal.hpp says how and what it costs).
#include <cstdio>

#include "harness/cli/command.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/gemm/reveal.hpp"

namespace ulpgate::cli {

void add_reveal_commands(CLI::App& app, int& rc) {
  static std::string case_id, backend = "host", arch;
  auto* cmd = app.add_subcommand(
      "reveal",
      "recover a GEMM kernel's summation order from designed inputs: +L, -L and unit products (FPRev), one GEMM "
      "call per M probes x N windows of K, regular runs galloped (O(levels x log K) probes, each call twice to "
      "detect non-determinism); then the model rows with that order, replayed on random data at the same shape");
  cmd->add_option("--case", case_id, "a gemm case id: its op, profile, formats and shape (the input and seed are not used)")
      ->required();
  cmd->add_option("--backend", backend, "the kernel under test (host, cuda, vendor, plugin:PATH)");
  cmd->add_option("--arch", arch, "its arch (default: the backend's first); selects the plausible model rows");
  cmd->callback([&] {
    const gemm::Case c = gemm::Case::parse(case_id);
    const std::string a = arch.empty() ? default_archs(backend).front() : arch;
    const std::unique_ptr<Backend> b = make_backend(backend, a);
    require_supported(*b, c.spec);
    std::printf("reveal %s on %s\n", c.id().c_str(), b->name().c_str());
    const gemm::Revealed r = gemm::reveal_gemm(c.spec, *b, a);
    std::fputs(r.story().c_str(), stdout);
    rc = r.deterministic && r.problem.empty() ? kPass : kFail;
  });
}

}  // namespace ulpgate::cli
