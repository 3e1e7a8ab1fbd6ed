#!/usr/bin/env bash
# Installs dependencies, builds quasr (Release) and runs the whole test suite.
# QUASR_SANITIZE=1 builds into build-asan with AddressSanitizer + UBSan instead.
set -euo pipefail
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"  # shared cores: sleep, do not spin
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build=build
extra=()
if [[ "${QUASR_SANITIZE:-0}" == "1" ]]; then
  build=build-asan
  extra=(-DCMAKE_BUILD_TYPE=Debug -DQUASR_SANITIZE=ON)
fi
cmake -S . -B "$build" -G Ninja -DQUASR_BUILD_TESTS=ON -DQUASR_BUILD_BENCH=OFF "${extra[@]}"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
