// Placeholder until the formats commands land (owned by the formats-verification work).
#include "harness/cli/command.hpp"
namespace ulpgate::cli {
void add_formats_commands(CLI::App&, int&) {}
}
