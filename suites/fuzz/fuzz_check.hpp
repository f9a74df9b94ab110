// What every fuzz target shares. A parser of untrusted text may reject its input only with a
// UsageError (exit code 2 in the CLI); anything else that escapes, and any property a target
// checks that does not hold, is a finding: it is printed and the process aborts, so libFuzzer
// saves the input as a crash reproducer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <typeinfo>

#include "reference/formats/formats.hpp"

namespace ulpgate::fuzz {

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\nfuzz finding: %s\n", what.c_str());
  std::abort();
}

// parse(), or nullopt when it rejects the input with a UsageError.
template <class Parse>
auto unless_rejected(Parse&& parse) -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const UsageError&) {
    return std::nullopt;
  }
}

// parse() on text that must be accepted (what the suite itself wrote): a UsageError is a finding.
template <class Parse>
auto must_accept(std::string_view what, Parse&& parse) -> decltype(parse()) {
  try {
    return parse();
  } catch (const UsageError& e) {
    finding(std::string(what) + " is rejected: " + e.what());
  }
}

// The body of LLVMFuzzerTestOneInput: check(input), reporting any exception that escapes it.
template <class Check>
int run(const uint8_t* data, size_t size, Check&& check) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    check(input);
  } catch (const UsageError&) {
    // a clean rejection of bad input
  } catch (const std::exception& e) {
    finding(std::string("an exception other than UsageError escaped (") + typeid(e).name() + "): " + e.what());
  }
  return 0;
}

}  // namespace ulpgate::fuzz
