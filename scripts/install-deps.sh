#!/usr/bin/env bash
# Installs the Debian 12 packages quasr needs to build, test and benchmark.
# Python (python3-torch etc.) is only for tools/ (fixtures, PyTorch reference);
# pass --with-python-tools to install it too.
set -euo pipefail
# ocl-icd-opencl-dev: Debian's oneDNN is built with the OpenCL GPU runtime, so its CMake config
# looks for OpenCL; apt only recommends the package, and --no-install-recommends leaves it out.
packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev libsndfile1-dev libsoxr-dev libsentencepiece-dev libyaml-cpp-dev
  nlohmann-json3-dev libcli11-dev libzip-dev libgtest-dev libgmock-dev libbenchmark-dev
)
if [[ "${1:-}" == "--with-python-tools" ]]; then
  packages+=(python3-torch python3-torchaudio python3-sentencepiece python3-numpy python3-yaml)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
