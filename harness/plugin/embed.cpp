// The embedding half of the C API (include/ulpgate/ulpgate.h), built as libulpgate.so: a session
// is a selection of cases; judging one runs it through the family's own run_case, with the
// program behind the same backend that serves plugins. The program is the kernel call by call
// (ulpgate_begin / ulpgate_submit, pull_case.hpp); ulpgate_judge is that loop over a function.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "harness/cli/sweep.hpp"
#include "harness/golden/golden_update.hpp"
#include "harness/allreduce/allreduce_case.hpp"
#include "harness/backends/device_references.hpp"
#include "harness/core/family.hpp"
#include "harness/gemm/gemm_case.hpp"
#include "harness/core/reveal.hpp"
#include "harness/plugin/plugin_backend.hpp"
#include "harness/plugin/pull_case.hpp"
#include "harness/report/console_table.hpp"
#include "harness/report/html_report.hpp"
#include "harness/build_info.hpp"
#include "reference/quant/layout.hpp"
#include "reference/gemm/model.hpp"
#include "include/ulpgate/ulpgate.h"

struct ulpgate_session {
  std::string arch, name;
  std::vector<std::string> ids;
  std::map<std::string, ulpgate::CaseResult> judged;  // by case id: the last result of each
  ulpgate::CaseResult last;                           // what the C result's strings point into
  std::string verdict, story;
  std::unique_ptr<ulpgate::plugin::PullCase> judging;  // the case waiting for the program
  bool revealing = false;                              // ... a reveal, not a judgment: not recorded

  std::vector<ulpgate::CaseResult> results() const {
    std::vector<ulpgate::CaseResult> out;
    for (const auto& [id, r] : judged) out.push_back(r);
    return out;
  }
};

namespace {

void say(char* message, size_t size, const std::string& text) {
  if (message && size) std::snprintf(message, size, "%s", text.c_str());
}

int fail(char* message, size_t size, const std::string& what) {
  say(message, size, what);
  return 1;
}

// The story a failure line and the first bad elements tell; for a pass, what passed.
std::string story_of(const ulpgate::CaseResult& r) {
  if (ulpgate::passes(r.verdict)) {
    char ulp[32];
    std::snprintf(ulp, sizeof ulp, "%g", r.max_ulp);
    return r.case_id + " [" + r.backend + "] " + std::string(ulpgate::verdict_name(r.verdict)) + ": " +
           std::to_string(r.elements) + " elements, max " + ulp + " ulp" + (r.message.empty() ? "" : ": " + r.message) +
           (r.note.empty() ? "" : " (" + r.note + ")");  // what ran: the claimed model, where the references ran
  }
  std::string s = ulpgate::failure_line(r);
  for (const std::string& line : r.first_bad) s += "\n  " + line;
  return s;
}

// The op and profile a case id names first (quant.group/vllm/...).
std::pair<std::string, std::string> op_and_profile(const std::string& id) {
  const size_t a = id.find('/'), b = a == std::string::npos ? a : id.find('/', a + 1);
  if (b == std::string::npos) throw ulpgate::UsageError("case id '" + id + "' does not start with OP/PROFILE/");
  return {id.substr(0, a), id.substr(a + 1, b - a - 1)};
}

// Where a case stands after begin or submit: the next call for the program, or the verdict.
int step(ulpgate_session* s, const ulpgate_call** call, ulpgate_result* result) {
  *call = s->judging->next();
  if (*call) return 0;
  const std::unique_ptr<ulpgate::plugin::PullCase> ended = std::move(s->judging);
  ulpgate::CaseResult r = ended->result();
  s->last = std::move(r);
  if (!s->revealing) s->judged[s->last.case_id] = s->last;
  s->verdict = std::string(ulpgate::verdict_name(s->last.verdict));
  s->story = s->revealing ? s->last.message : story_of(s->last);
  *result = {s->last.case_id.c_str(), s->last.backend.c_str(), s->verdict.c_str(), ulpgate::passes(s->last.verdict),
             s->last.max_ulp, s->last.digest, s->story.c_str()};
  return 0;
}

// Starts a case for the program (a judgment, or a reveal: `job` on the backend whose kernel is the
// program), then steps to its first call.
int start(ulpgate_session* s, const std::string& id, bool revealing, const ulpgate_call** call, ulpgate_result* result,
          char* message, size_t message_size, std::function<ulpgate::CaseResult(ulpgate::Backend&)> job,
          const std::string& claim = "") {
  try {
    s->judging.reset();  // abandons an unfinished case: its result is not recorded
    s->revealing = revealing;
    const auto [op, profile] = op_and_profile(id);
    s->judging = std::make_unique<ulpgate::plugin::PullCase>([s, op, profile, claim, job](ulpgate_op_fn fn, void* state) {
      const ulpgate_op row{op.c_str(), profile.c_str(), s->arch.c_str(), fn, claim.empty() ? nullptr : claim.c_str()};
      const ulpgate_plugin table{ULPGATE_ABI_VERSION, s->name.c_str(), "", &row, 1, state};
      const auto backend = ulpgate::plugin::table_backend("the embedding program's kernel", table, s->arch);
      return job(*backend);
    });
    return step(s, call, result);
  } catch (const std::exception& e) {
    s->judging.reset();
    return fail(message, message_size, e.what());
  }
}

}  // namespace

extern "C" {

ULPGATE_EXPORT ulpgate_session* ulpgate_open(const char* filter, const char* arch, const char* name, char* message,
                                             size_t message_size) {
  try {
#if defined(ULPGATE_HAVE_CUDA)
    ulpgate::plugin::set_device_copies(ulpgate::make_cuda_copies);
    ulpgate::plugin::set_device_references(ulpgate::cuda_device_references);
#endif
    auto s = std::make_unique<ulpgate_session>();
    s->arch = arch ? arch : "host-w32";
    s->name = name ? name : "embedded";
    ulpgate::cli::Selection selection;
    selection.filter = filter ? filter : "*";
    s->ids = ulpgate::cli::select_cases(selection);
    return s.release();
  } catch (const std::exception& e) {
    fail(message, message_size, e.what());
    return nullptr;
  }
}

ULPGATE_EXPORT int32_t ulpgate_case_count(const ulpgate_session* s) { return int32_t(s->ids.size()); }

ULPGATE_EXPORT const char* ulpgate_case_id(const ulpgate_session* s, int32_t i) {
  return i >= 0 && size_t(i) < s->ids.size() ? s->ids[size_t(i)].c_str() : nullptr;
}


ULPGATE_EXPORT int ulpgate_begin(ulpgate_session* s, const char* case_id, const char* model, const ulpgate_call** call,
                                 ulpgate_result* result, char* message, size_t message_size) {
  const std::string id = case_id ? case_id : "", claim = model ? model : "";
  return start(s, id, false, call, result, message, message_size,
               [id](ulpgate::Backend& backend) { return ulpgate::run_case(id, backend, nullptr); }, claim);
}

ULPGATE_EXPORT int ulpgate_begin_reveal(ulpgate_session* s, const char* case_id, const ulpgate_call** call,
                                        ulpgate_result* result, char* message, size_t message_size) {
  const std::string id = case_id ? case_id : "", arch = s->arch;
  return start(s, id, true, call, result, message, message_size, [id, arch](ulpgate::Backend& backend) {
    ulpgate::CaseResult r;
    r.backend = backend.name();
    const ulpgate::RevealOutcome o = ulpgate::reveal_case(id, backend, arch);
    r.case_id = o.case_id, r.message = o.story;
    const bool revealed = o.revealed;
    r.verdict = revealed ? ulpgate::Verdict::exact : ulpgate::Verdict::error;
    return r;
  });
}

ULPGATE_EXPORT int ulpgate_submit(ulpgate_session* s, int status, const char* kernel_message, const ulpgate_call** call,
                                  ulpgate_result* result, char* message, size_t message_size) {
  try {
    if (!s->judging) throw ulpgate::UsageError("no case is waiting for outputs (ulpgate_begin starts one)");
    s->judging->answer(status, kernel_message ? kernel_message : "");
    return step(s, call, result);
  } catch (const std::exception& e) {
    s->judging.reset();
    return fail(message, message_size, e.what());
  }
}

ULPGATE_EXPORT int ulpgate_judge(ulpgate_session* s, const char* case_id, ulpgate_op_fn kernel, void* state,
                                 const char* model, ulpgate_result* result, char* message, size_t message_size) {
  const ulpgate_call* call = nullptr;
  int rc = ulpgate_begin(s, case_id, model, &call, result, message, message_size);
  while (rc == 0 && call) {
    char text[1024] = "";
    const int status = kernel(state, call, text, sizeof text);
    text[sizeof text - 1] = '\0';
    rc = ulpgate_submit(s, status, text, &call, result, message, message_size);
  }
  return rc;
}

ULPGATE_EXPORT void ulpgate_close(ulpgate_session* s) { delete s; }

// The session's results against golden_dir/<family>.csv, limited to what the session judged.
ulpgate::GateReport gate_session(const ulpgate_session* s, const std::string& golden_dir) {
  namespace fs = std::filesystem;
  const std::vector<ulpgate::CaseResult> results = s->results();
  std::map<std::string_view, fs::path> files;
  for (const ulpgate::CaseResult& r : results) {
    const fs::path path = ulpgate::golden_path(golden_dir, r.family);
    if (!fs::exists(path)) throw ulpgate::UsageError("no golden file " + path.string() + " (write it with ulpgate_golden_update)");
    files[ulpgate::family_of(r.case_id).name] = path;
  }
  const auto scope = [s](std::string_view id, std::string_view backend) {
    const auto it = s->judged.find(std::string(id));
    return it != s->judged.end() && it->second.backend == backend;
  };
  return ulpgate::gate_against(results, files, scope);
}

ULPGATE_EXPORT int ulpgate_gate(ulpgate_session* s, const char* golden_dir, int allow_new, char* report, size_t size) {
  try {
    const ulpgate::GateReport g = gate_session(s, golden_dir ? golden_dir : "");
    say(report, size, ulpgate::gate_text(g, golden_dir ? golden_dir : "", allow_new != 0));
    return ulpgate::gate_exit_code(g, allow_new != 0);
  } catch (const std::exception& e) {
    say(report, size, e.what());
    return 2;
  }
}

ULPGATE_EXPORT int ulpgate_golden_update(ulpgate_session* s, const char* golden_dir, const char* device, char* report,
                                         size_t size) {
  try {
    const std::vector<ulpgate::CaseResult> results = s->results();
    const ulpgate::HardwareInfo hw{device && *device, device ? device : "", "", ""};
    std::string text;
    for (const ulpgate::OpFamily& f : ulpgate::families()) {
      std::vector<ulpgate::CaseResult> rows;
      for (const ulpgate::CaseResult& r : results)
        if (r.family == f.name) rows.push_back(r);
      if (!rows.empty()) text += ulpgate::update_golden_file(ulpgate::golden_path(golden_dir ? golden_dir : "", f.name), rows, s->arch, hw);
    }
    say(report, size, text);
    return 0;
  } catch (const std::exception& e) {
    say(report, size, e.what());
    return 2;
  }
}

ULPGATE_EXPORT int ulpgate_report_html(ulpgate_session* s, const char* path, const char* golden_dir, char* message,
                                       size_t size) {
  try {
    ulpgate::HtmlReport html;
    html.title = "ulpgate " + s->name + "@" + s->arch;
    html.facts = {{"arch", s->arch}, {"backend", "plugin:" + s->name + "@" + s->arch}, {"suite", ulpgate::suite_version()}};
    html.results = s->results();
    if (golden_dir && *golden_dir) {
      html.gate = gate_session(s, golden_dir);
      html.facts.emplace_back("golden", golden_dir);
      html.summary = {"gate: " + ulpgate::gate_summary(*html.gate)};
    }
    ulpgate::write_html(path ? path : "", html);
    return 0;
  } catch (const std::exception& e) {
    return fail(message, size, e.what());
  }
}

ULPGATE_EXPORT int ulpgate_scale_layout(const char* layout, int64_t rows, int64_t groups, int64_t* offsets,
                                        uint8_t* storage, int64_t* storage_bytes, int32_t* scale_bytes, char* message,
                                        size_t size) {
  try {
    namespace q = ulpgate::quant;
    const q::Layout l = q::parse_layout(layout ? layout : "");
    if (rows < 0 || groups < 0) throw ulpgate::UsageError("a scale shape has no negative extent");
    const q::ScaleShape ss{rows, groups};
    const int64_t n = q::storage_bytes(l, ss);
    if (storage_bytes) *storage_bytes = n;
    if (scale_bytes) *scale_bytes = q::is_ue8m0_layout(l) ? 1 : 4;
    if (offsets)
      for (int64_t m = 0; m < rows; ++m)
        for (int64_t g = 0; g < groups; ++g) offsets[m * groups + g] = q::byte_offset(l, ss, m, g);
    if (storage)
      for (int64_t b = 0; b < n; ++b) storage[b] = q::scale_at(l, ss, b) ? 0 : q::padding_byte(l, ss, b);
    return 0;
  } catch (const std::exception& e) {
    return fail(message, size, e.what());
  }
}

ULPGATE_EXPORT int ulpgate_encode(const char* conversion, const float* values, size_t n, uint8_t* codes, char* message,
                                  size_t message_size) {
  try {
    const ulpgate::Conversion c = ulpgate::Conversion::parse(conversion ? conversion : "");
    if (ulpgate::info(c.format).bits != 8) throw ulpgate::UsageError("ulpgate_encode converts to 8-bit formats, not " + c.str());
    for (size_t i = 0; i < n; ++i) codes[i] = uint8_t(ulpgate::encode(values[i], c));
    return 0;
  } catch (const std::exception& e) {
    return fail(message, message_size, e.what());
  }
}

ULPGATE_EXPORT int ulpgate_model_chain(const char* model, const char* a_format, const char* b_format, size_t count,
                                       size_t k, const uint8_t* a, const uint8_t* b, const float* c,
                                       const int32_t* scale_exp, float* out, char* message, size_t message_size) {
  try {
    const ulpgate::gemm::AccumModel& m = ulpgate::gemm::model(model ? model : "");
    const ulpgate::Format af = ulpgate::parse_format(a_format ? a_format : ""), bf = ulpgate::parse_format(b_format ? b_format : "");
    const size_t steps = (k + size_t(m.step.k) - 1) / size_t(m.step.k);
    std::vector<int> exps(scale_exp ? steps : 0);
    for (size_t i = 0; i < count; ++i) {
      for (size_t s = 0; s < exps.size(); ++s) exps[s] = scale_exp[i * steps + s];
      const float acc = ulpgate::gemm::mma_chain(m.step, af, bf, {a + i * k, k}, {b + i * k, k}, c ? c[i] : 0.0f, exps);
      out[i] = acc;
    }
    return 0;
  } catch (const std::exception& e) {
    return fail(message, message_size, e.what());
  }
}

}  // extern "C"
