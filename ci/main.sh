#!/usr/bin/env bash
# Sets up, builds and runs the main job: the default conformance sweep (on a GPU when one is
# present, else on the host emulation). Extra arguments go to `ulpgate run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/setup.sh
bash ci/build.sh
./build/harness/ulpgate run --backend auto "$@"
