// The input as a golden file. Property: only UsageError escapes, and a file that parses and that
// render_golden accepts (it refuses fields with line breaks) reads back from its rendering as the
// same provenance and the same rows (render sorts them).
#include <algorithm>
#include <stdexcept>

#include "harness/golden/golden_file.hpp"
#include "suites/fuzz/fuzz_check.hpp"

namespace {

using namespace ulpgate;

void check_golden(std::string_view text) {
  const auto golden = fuzz::unless_rejected([&] { return parse_golden(text, "fuzz.csv"); });
  if (!golden) return;
  std::string rendered;
  try {
    rendered = render_golden(*golden);
  } catch (const std::invalid_argument&) {
    return;  // what a golden file cannot hold faithfully; the writer refuses it
  }
  const GoldenFile back =
      fuzz::must_accept("the rendering\n" + rendered, [&] { return parse_golden(rendered, "rendered.csv"); });
  if (!(back.provenance == golden->provenance) ||
      !std::is_permutation(back.rows.begin(), back.rows.end(), golden->rows.begin(), golden->rows.end()))
    fuzz::finding("parse(render(g)) != g; the rendering:\n" + rendered);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::run(data, size, check_golden);
}
