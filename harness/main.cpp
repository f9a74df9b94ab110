#include <CLI/CLI.hpp>
int main(int argc, char** argv) {
  CLI::App app{"ulpgate: numerical conformance for low-precision GPU kernels"};
  CLI11_PARSE(app, argc, argv);
  return 0;
}
