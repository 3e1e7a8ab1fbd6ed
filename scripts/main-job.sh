#!/usr/bin/env bash
# The main job: install dependencies, build quasr, quantize the bundled demo
# model two ways (the SpeechBrain tutorial's recipe and int8-all, calibrated on
# the bundled calibration set), and benchmark fp32 and both int8 models side by
# side on the bundled evaluation set. Writes out/demo-report.{md,json} and
# out/demo-wer-rtf.svg and prints the table.
set -euo pipefail
# quasr picks its own OpenMP waiting (a short spin, see apps/quasr/main.cc);
# OMP_WAIT_POLICY / GOMP_SPINCOUNT from the caller still win.
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DQUASR_BUILD_TESTS=OFF -DQUASR_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target quasr
quasr=build/apps/quasr/quasr
out=out
mkdir -p "$out"
for preset in tutorial int8-all; do
  rm -rf "$out/demo-$preset"
  "$quasr" quantize --model models/demo --out "$out/demo-$preset" --preset "$preset" \
    --calib data/demo/calib --calib-n 20 --seed 1337
done
"$quasr" bench --data data/demo/eval/manifest.jsonl --warmup 10 \
  --model models/demo --name fp32 \
  --model "$out/demo-tutorial" --name tutorial-int8 \
  --model "$out/demo-int8-all" --name int8-all \
  --json "$out/demo-report.json" --report "$out/demo-report.md" --plot "$out/demo-wer-rtf.svg"
