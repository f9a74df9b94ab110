#!/usr/bin/env bash
# The Python package as a user gets it: a wheel built from python/ by its build backend
# (scikit-build-core runs this repository's CMake: libulpgate.so inside the wheel, CPU-only here),
# installed into a fresh virtual environment (Debian's numpy and pytest visible through
# --system-site-packages), then the package's tests, the pytest plugin's included, against it. The
# torch-adapter tests skip here (Debian has no PyTorch, PyPI's needs its CUDA libraries); they run
# where PyTorch is installed (the GPU machine's `ci/gpu-run.sh wheel`).
# Usage: python_test.sh SOURCE_DIR WORK_DIR [CXX CC]: the compilers of the build that runs the test
set -euo pipefail
src=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
pip=("$work/venv/bin/pip" --disable-pip-version-check -q)
"${pip[@]}" install "scikit-build-core>=0.10" >"$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
# ccache where installed (ci/build.sh uses it too) and the same compilers (scikit-build-core
# would take Python's, another name that ccache tells apart): the objects the main build compiled.
command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache CCACHE_DEPEND=1
[[ -n ${3:-} ]] && export CXX=$3 CC=$4
SKBUILD_CMAKE_DEFINE=ULPGATE_CPU_ONLY=ON SKBUILD_BUILD_DIR="$work/cmake" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) \
  "${pip[@]}" wheel --no-build-isolation --no-deps -w "$work/dist" "$src/python" >>"$work/pip.log" 2>&1 ||
  { cat "$work/pip.log"; exit 1; }
"${pip[@]}" install --no-deps "$work"/dist/ulpgate-*.whl >>"$work/pip.log" 2>&1 || { cat "$work/pip.log"; exit 1; }
cd "$work"  # the installed package, not the source tree's
unset ULPGATE_LIBRARY  # the wheel's own library
PYTHONDONTWRITEBYTECODE=1 "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$src/python/tests"
