// Tests of bad input compare the whole message: the file, the line and what was expected.
#pragma once

#include <string>

#include "reference/formats/formats.hpp"

namespace ulpgate {

// The message of the UsageError that f() throws, or "accepted" when it throws none.
template <class F>
std::string usage_error(F&& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "accepted";
}

}  // namespace ulpgate
