// ulpgate: the command-line entry point. Subcommands live in harness/cli/.
#include <cstdio>
#include <exception>
#include <string>

#include "harness/backends/kernel_backends.hpp"
#include "harness/build_info.hpp"
#include "harness/plugin/plugin_backend.hpp"
#include "harness/cli/command.hpp"
#include "harness/cli/reports.hpp"
#include "reference/formats/formats.hpp"

int main(int argc, char** argv) {
  using namespace ulpgate::cli;
  CLI::App app{"ulpgate: numerical conformance for low-precision GPU kernels"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("ulpgate ") + ulpgate::suite_version() + " (commit " + ulpgate::suite_commit() + ")");
  ulpgate::register_kernel_backends();
  ulpgate::register_backend_kind("plugin", ulpgate::plugin::load_plugin);
  int rc = kPass;
  add_formats_commands(app, rc);
  add_run_commands(app, rc);
  add_bench_commands(app, rc);
  add_divergence_commands(app, rc);
  add_signoff_commands(app, rc);
  add_reveal_commands(app, rc);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsage;
  } catch (const ulpgate::UsageError& e) {
    std::fprintf(stderr, "ulpgate: %s\n", e.what());
    return kUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ulpgate: %s\n", e.what());
    return kInfra;
  }
  return rc;
}
