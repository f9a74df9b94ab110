# Run by the build (harness/CMakeLists.txt), not at configure time: writes OUT with the commit of
# SOURCE_DIR's HEAD. file(CONFIGURE) leaves OUT untouched when nothing changed, so an incremental
# build after a commit restamps provenance and recompiles one file, and otherwise nothing.
execute_process(COMMAND git rev-parse --short=12 HEAD WORKING_DIRECTORY ${SOURCE_DIR}
                OUTPUT_VARIABLE commit OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT commit)
  set(commit unknown)
endif()
file(CONFIGURE OUTPUT ${OUT} @ONLY CONTENT [[
#include "harness/build_info.hpp"

namespace ulpgate {
const char* suite_version() { return "@VERSION@"; }
const char* suite_commit() { return "@commit@"; }
}  // namespace ulpgate
]])
