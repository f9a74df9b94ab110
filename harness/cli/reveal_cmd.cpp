// `ulpgate reveal`: the summation order of a black-box kernel from designed inputs
// (harness/gemm/reveal.hpp, harness/norm/reveal.hpp and harness/allreduce/reveal.hpp say how and
// what it costs).
#include <cstdio>

#include "harness/cli/command.hpp"
#include "harness/cli/sweep.hpp"
#include "harness/core/family.hpp"
#include "harness/core/id_text.hpp"
#include "harness/core/reveal.hpp"

namespace ulpgate::cli {
namespace {

bool is_shape(std::string_view segment) {
  return !segment.empty() && segment.find_first_not_of("0123456789x") == std::string_view::npos;
}

// The first catalog case (either tier) of the op and profile, with its shape segment replaced.
std::string case_of(std::string_view op, std::string_view profile, std::string_view shape) {
  for (const OpFamily& f : families())
    for (const std::string& id : f.catalog(Tier::full)) {
      std::vector<std::string_view> segments = id_text::split(id, '/');
      if (segments[0] != op || (!profile.empty() && segments[1] != profile)) continue;
      std::string out;
      bool replaced = shape.empty();
      for (std::string_view s : segments) {
        if (!replaced && is_shape(s)) s = shape, replaced = true;
        out += (out.empty() ? "" : "/") + std::string(s);
      }
      return f.canonical_id(out);
    }
  throw UsageError("no catalog case of op '" + std::string(op) + "'" +
                   (profile.empty() ? "" : " and profile '" + std::string(profile) + "'") +
                   " (reveal takes gemm.*, norm.* and allreduce; `ulpgate list --tier full` lists the cases)");
}

}  // namespace

void add_reveal_commands(CLI::App& app, int& rc) {
  static std::string case_id, op, profile, shape, backend = "host", arch;
  auto* cmd = app.add_subcommand(
      "reveal",
      "recover a kernel's summation order from designed inputs (FPRev's swamping: a large term, what cancels or "
      "overflows it, and units). GEMM: +L, -L and units, one call per probe over N windows of K, regular runs "
      "galloped (O(levels x log K) probes); then the model rows with that tree, replayed on the case's operands. "
      "RMSNorm: the sum of squares, squares adding to fp32's largest value and two units that overflow it only "
      "when added to each other first; each output row is one such test, siblings sorted by parallel quicksort "
      "(O(H log^2 H) rows in O(depth x log H) calls); the tree's longest path against the r budget's. All-reduce: "
      "one call per pair of ranks (W(W-1)/2), the tree per element and output rank against the variant's "
      "documented order. Every call runs twice: bits that differ mean non-deterministic, and no order is given");
  auto* by_case = cmd->add_option("--case", case_id,
                                  "a gemm, norm or allreduce case id: its op, profile or variant, formats and shape "
                                  "(the input and seed are not used)");
  auto* by_op = cmd->add_option("--op", op, "instead of --case: the op (gemm.tensor, gemm.rowwise, gemm.block, "
                                            "gemm.mx, norm.rms, norm.rms-quant, ..., allreduce); its first catalog case")
                    ->excludes(by_case);
  cmd->add_option("--profile", profile, "with --op: the profile (all-reduce: the variant)")->needs(by_op);
  cmd->add_option("--shape", shape, "with --op: the shape, as the case ids write it (MxNxK, MxH, elements)")->needs(by_op);
  cmd->add_option("--backend", backend, "the kernel under test (host, cuda, vendor, plugin:PATH)");
  cmd->add_option("--arch", arch, "its arch (default: the backend's first); selects the plausible model rows");
  cmd->callback([&, by_case, by_op] {
    if (!*by_case && !*by_op) throw UsageError("reveal needs --case ID or --op OP");
    const std::string id = *by_case ? case_id : case_of(op, profile, shape);
    const std::string a = arch.empty() ? default_archs(backend).front() : arch;
    const std::unique_ptr<Backend> b = make_backend(backend, a);
    const RevealOutcome r = reveal_case(id, *b, a);
    std::printf("reveal %s on %s\n%s", r.case_id.c_str(), b->name().c_str(), r.story.c_str());
    rc = r.revealed ? kPass : kFail;
  });
}

}  // namespace ulpgate::cli
