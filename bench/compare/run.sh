#!/usr/bin/env bash
# quasr vs PyTorch on random-weight wav2vec2-base / -large models (SpeechBrain EncoderASR layout):
# same clips, same threads, one table. See bench/compare/README.md.
#
#   bench/compare/run.sh                      # base and large, 2 threads
#   THREADS=4 MODELS="base" bench/compare/run.sh
#
# Environment: THREADS (2), MODELS ("base large"), SCRATCH (/work/scratch/compare),
# QUASR (path of a quasr binary; default: build one from this checkout into $SCRATCH/build),
# TORCH_MODES (fp32,dynamic,tutorial), QUASR_MODES (fp32,tutorial,int8-all), DATA (LJSpeech part),
# TORCH_BLAS (openblas: run PyTorch on OpenBLAS when installed; system: leave libblas alone),
# OMP_WAIT_POLICY (passive; both engines).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=/usr/bin/python3
THREADS="${THREADS:-2}"
MODELS="${MODELS:-base large}"
SCRATCH="${SCRATCH:-/work/scratch/compare}"
DATA="${DATA:-/work/shared/data/ljspeech-part}"
TORCH_MODES="${TORCH_MODES:-fp32,dynamic,tutorial}"
QUASR_MODES="${QUASR_MODES:-fp32,tutorial,int8-all}"
case "$(realpath -m "$SCRATCH")/" in
  "$REPO"/*) echo "run.sh: SCRATCH=$SCRATCH is inside the repository" >&2; exit 2 ;;
esac

if [[ -z "${QUASR:-}" ]]; then
  cmake -S "$REPO" -B "$SCRATCH/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DQUASR_BUILD_TESTS=OFF -DQUASR_BUILD_BENCH=OFF >/dev/null
  cmake --build "$SCRATCH/build" --target quasr -j"$(nproc)" >/dev/null
  QUASR="$SCRATCH/build/apps/quasr/quasr"
fi

"$PY" "$REPO/tools/compare/make_random_model.py" --out "$SCRATCH/models"
if [[ ! -f "$SCRATCH/clips/clips.tsv" ]]; then
  "$PY" "$REPO/tools/compare/make_clips.py" --out "$SCRATCH/clips" --data "$DATA"
fi

# Debian's torch links libblas.so.3; when the system alternative is netlib's reference BLAS the
# fp32 baseline runs ~20x slower than any real PyTorch install. Point the PyTorch runs (only them)
# at OpenBLAS when it is installed; TORCH_BLAS=system keeps whatever the system has.
TORCH_ENV=()
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
if [[ "${TORCH_BLAS:-openblas}" == openblas && -f "$OPENBLAS" ]]; then
  mkdir -p "$SCRATCH/blas"
  ln -sf "$OPENBLAS" "$SCRATCH/blas/libblas.so.3"
  TORCH_ENV=(env "LD_LIBRARY_PATH=$SCRATCH/blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
             "OPENBLAS_NUM_THREADS=$THREADS")
fi

# Both engines use OpenMP (libgomp). Its default wait policy spins, and on a machine with more
# runnable threads than cores a barrier then waits for descheduled spinners: quasr on the tiny
# fixture model measured 11.3 s with 2 threads vs 0.5 s with passive waiting at load 12 on
# 2 cores. Passive is the default here; OMP_WAIT_POLICY=active for a dedicated machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$SCRATCH/results/$STAMP"
mkdir -p "$OUT"
results=()
for m in $MODELS; do
  "${TORCH_ENV[@]}" "$PY" "$REPO/tools/compare/torch_rtf.py" --model "$SCRATCH/models/$m" \
    --clips "$SCRATCH/clips/clips.tsv" --modes "$TORCH_MODES" --threads "$THREADS" \
    --json "$OUT/torch-$m.json"
  "$PY" "$REPO/tools/compare/quasr_rtf.py" --quasr "$QUASR" --model "$SCRATCH/models/$m" \
    --clips "$SCRATCH/clips/clips.tsv" --tiny "$SCRATCH/clips/tiny.wav" \
    --work "$OUT/quasr-$m" --modes "$QUASR_MODES" --threads "$THREADS" \
    --json "$OUT/quasr-$m.json"
  results+=("$OUT/torch-$m.json" "$OUT/quasr-$m.json")
done
"$PY" "$REPO/tools/compare/report.py" "${results[@]}" --markdown "$OUT/table.md"
echo "results: $OUT"
