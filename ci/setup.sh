#!/usr/bin/env bash
# Installs what ulpgate needs on Debian 12 (idempotent: quick when everything is there).
set -euo pipefail

packages=(
  build-essential cmake ninja-build git pkg-config ccache
  libgtest-dev libeigen3-dev libboost-dev libboost-context-dev libcli11-dev libfccp-dev
  libdlpack-dev libxxhash-dev nlohmann-json3-dev openmpi-bin libopenmpi-dev
  python3 python3-venv python3-pip python3-setuptools python3-numpy python3-pytest
  chromium-headless-shell fonts-dejavu-core
  llvm-19-dev clang-19 lld-19 hipcc libclang-rt-19-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "ci/setup.sh: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# CUDA is optional: kernels build for sm_90a/sm_100a whenever nvcc is found.
if [ -x /usr/local/cuda/bin/nvcc ]; then
  echo "ci/setup.sh: CUDA $(/usr/local/cuda/bin/nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') found"
else
  echo "ci/setup.sh: no CUDA toolkit at /usr/local/cuda: CUDA kernels will not be built"
fi
