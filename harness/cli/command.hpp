// Each CLI area registers its subcommands on the app; the callback stores the exit code.
#pragma once
#include <CLI/CLI.hpp>

namespace ulpgate::cli {

// Exit codes of the command-line contract (DESIGN.md).
enum ExitCode : int { kPass = 0, kFail = 1, kUsage = 2, kInfra = 3 };

void add_formats_commands(CLI::App& app, int& rc);  // formats verify|table, convert, decode
void add_bench_commands(CLI::App& app, int& rc);    // bench: kernel bandwidth vs copy (CUDA)
void add_divergence_commands(CLI::App& app, int& rc);  // divergence: profiles that disagree (R18)
void add_signoff_commands(CLI::App& app, int& rc);     // signoff: bring-up, gated, one bundle
void add_reveal_commands(CLI::App& app, int& rc);      // reveal: a kernel's summation order

}  // namespace ulpgate::cli
