#!/usr/bin/env bash
# Installs dependencies, builds quasr and runs the main job: the benchmark of the
# bundled demo model (fp32 and int8 recipes) on the bundled demo evaluation set.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DQUASR_BUILD_TESTS=OFF -DQUASR_BUILD_BENCH=OFF
cmake --build build -j"$(nproc)" --target quasr
quasr=build/apps/quasr/quasr
if [[ -d models/demo && -f data/demo/eval/manifest.jsonl ]] && "$quasr" bench --help >/dev/null 2>&1; then
  exec "$quasr" bench --model models/demo --data data/demo/eval/manifest.jsonl \
    --report out/demo-report.md --json out/demo-report.json --plot out/demo-wer-rtf.svg
fi
# Until the benchmark and demo model land, transcribe the committed fixtures.
for variant in hf_large_st sb_local; do
  "$quasr" transcribe --model "tests/fixtures/models/$variant" tests/fixtures/parity/$variant/utt*.wav
done
