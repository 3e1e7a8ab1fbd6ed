#!/usr/bin/env bash
# quasr vs PyTorch (and ONNX Runtime) on random-weight wav2vec2-base / -large models (SpeechBrain
# EncoderASR layout): same clips, same threads, one table. See bench/compare/README.md.
#
#   bench/compare/run.sh                      # base and large, 2 threads
#   THREADS=4 MODELS="base" bench/compare/run.sh
#
# Environment: THREADS (2), MODELS ("base large"), SCRATCH (/work/scratch/compare),
# QUASR (path of a quasr binary; default: build one from this checkout into $SCRATCH/build),
# TORCH_MODES (fp32,dynamic,tutorial), QUASR_MODES (fp32,fp32-exact,tutorial,int8-all), DATA (LJSpeech part),
# TORCH_BLAS (openblas: run PyTorch on OpenBLAS when installed; system: leave libblas alone),
# OMP_WAIT_POLICY (passive; both engines), ORT_MODES (fp32,int8; int8-pc also known; empty: no
# ONNX Runtime rows), ORT_PREFIX (npm prefix holding onnxruntime-node; $SCRATCH/ort),
# PAIRS (3: back-to-back runs of PyTorch's best int8 mode and quasr int8-all per model, see
# tools/compare/paired_ratio.py; 0: none).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=/usr/bin/python3
THREADS="${THREADS:-2}"
MODELS="${MODELS:-base large}"
SCRATCH="${SCRATCH:-/work/scratch/compare}"
DATA="${DATA:-/work/shared/data/ljspeech-part}"
TORCH_MODES="${TORCH_MODES:-fp32,dynamic,tutorial}"
QUASR_MODES="${QUASR_MODES:-fp32,fp32-exact,tutorial,int8-all}"
ORT_MODES="${ORT_MODES-fp32,int8}"  # set but empty: no ONNX Runtime rows
ORT_PREFIX="${ORT_PREFIX:-$SCRATCH/ort}"
PAIRS="${PAIRS:-3}"
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

# ONNX Runtime rows need node, onnxruntime-node under $ORT_PREFIX and, for the int8 models,
# Debian's python3-onnx; without them the rows are left out with one line saying why.
ORT_WHY=""
if [[ -z "$ORT_MODES" ]]; then
  ORT_WHY="ORT_MODES is empty"
elif ! command -v node >/dev/null; then
  ORT_WHY="node is not installed"
elif [[ ! -d "$ORT_PREFIX/node_modules/onnxruntime-node" ]]; then
  ORT_WHY="no onnxruntime-node under $ORT_PREFIX (ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix $ORT_PREFIX onnxruntime-node@1.30.0)"
elif [[ ",$ORT_MODES," == *,int8* ]] && ! "$PY" -c "import onnx" 2>/dev/null; then
  ORT_WHY="the int8 modes need python3-onnx (apt-get install python3-onnx) for $PY"
fi
[[ -z "$ORT_WHY" ]] || echo "run.sh: ONNX Runtime rows skipped: $ORT_WHY" >&2
# libgomp's passive waiting has a counterpart in ORT's own thread pool: no spinning.
ORT_SPIN=1
[[ "$OMP_WAIT_POLICY" == passive ]] && ORT_SPIN=0

# ort_models MODEL: make (or reuse) $SCRATCH/onnx/MODEL/{model.onnx, model.<mode>.onnx, ref.*}
# and print the --modes argument of ort_rtf.js. Each file is remade when anything it is made
# from (model folder, clips, the script making it) is newer.
ort_models() {
  local m="$1" dir="$SCRATCH/onnx/$1" spec="" mode f opts
  mkdir -p "$dir"
  if [[ ! -f "$dir/model.onnx" || ! -f "$dir/ref.json" ]] ||
     [[ -n "$(find "$SCRATCH/models/$m" "$SCRATCH/clips/clips.tsv" \
              "$REPO/tools/compare/export_onnx.py" -newer "$dir/model.onnx" -type f)" ]]; then
    "${TORCH_ENV[@]}" "$PY" "$REPO/tools/compare/export_onnx.py" --model "$SCRATCH/models/$m" \
      --clips "$SCRATCH/clips/clips.tsv" --out "$dir" --ort "$ORT_PREFIX" \
      --threads "$THREADS" >&2 || return 1  # (set -e does not reach into an `if` condition)
  fi
  for mode in ${ORT_MODES//,/ }; do
    f="$dir/model.$mode.onnx"
    case "$mode" in
      fp32) f="$dir/model.onnx"; opts=() ;;
      int8) opts=() ;;
      int8-pc) opts=(--per-column) ;;
      *) echo "run.sh: ORT mode $mode unknown (fp32, int8, int8-pc); left out" >&2; continue ;;
    esac
    if [[ "$mode" != fp32 && ( ! -f "$f" || "$dir/model.onnx" -nt "$f" ||
          "$REPO/tools/compare/onnx_quantize_dynamic.py" -nt "$f" ) ]]; then
      "$PY" "$REPO/tools/compare/onnx_quantize_dynamic.py" "$dir/model.onnx" "$f" "${opts[@]}" \
        >&2 || return 1
    fi
    spec+="${spec:+,}$mode=$f"
  done
  echo "$spec"
}

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$SCRATCH/results/$STAMP"
mkdir -p "$OUT"
results=()
for m in $MODELS; do
  # The ONNX models (and PyTorch's reference log-probs, ref.json, which the PyTorch and quasr
  # rows are checked against too) first. The ORT rows are optional: a failure leaves them out.
  spec=""
  if [[ -z "$ORT_WHY" ]] && ! spec="$(ort_models "$m")"; then spec=""; fi
  ref=()
  [[ -f "$SCRATCH/onnx/$m/ref.json" ]] && ref=(--ref "$SCRATCH/onnx/$m/ref.json")
  "${TORCH_ENV[@]}" "$PY" "$REPO/tools/compare/torch_rtf.py" --model "$SCRATCH/models/$m" \
    --clips "$SCRATCH/clips/clips.tsv" --modes "$TORCH_MODES" --threads "$THREADS" \
    "${ref[@]}" --json "$OUT/torch-$m.json"
  "$PY" "$REPO/tools/compare/quasr_rtf.py" --quasr "$QUASR" --model "$SCRATCH/models/$m" \
    --clips "$SCRATCH/clips/clips.tsv" --tiny "$SCRATCH/clips/tiny.wav" \
    --work "$OUT/quasr-$m" --modes "$QUASR_MODES" --threads "$THREADS" "${ref[@]}" \
    --json "$OUT/quasr-$m.json"
  results+=("$OUT/torch-$m.json" "$OUT/quasr-$m.json")
  if [[ -z "$ORT_WHY" ]]; then
    if [[ -z "$spec" ]]; then
      echo "run.sh: ONNX Runtime rows for $m skipped: no ONNX model could be made" >&2
    elif node "$REPO/tools/compare/ort_rtf.js" --ort "$ORT_PREFIX" --model "$SCRATCH/models/$m" \
        --clips "$SCRATCH/clips/clips.tsv" --modes "$spec" --threads "$THREADS" \
        --spin "$ORT_SPIN" --ref "$SCRATCH/onnx/$m/ref.json" --json "$OUT/ort-$m.json"; then
      results+=("$OUT/ort-$m.json")
    else
      echo "run.sh: ONNX Runtime rows for $m skipped: ort_rtf.js failed" >&2
    fi
  fi
done
"$PY" "$REPO/tools/compare/report.py" "${results[@]}" --markdown "$OUT/table.md"

# The int8 headline ratio again from back-to-back pairs: the main run times the engines minutes
# apart, and the machine's load drifts in between (paired_ratio.py says more).
if [[ "$PAIRS" -gt 0 && ",$QUASR_MODES," == *,int8-all,* ]]; then
  for m in $MODELS; do
    best="$("$PY" "$REPO/tools/compare/paired_ratio.py" --best-of "$OUT/torch-$m.json")"
    [[ -n "$best" ]] || { echo "run.sh: no PyTorch int8 mode ran for $m: no pairs" >&2; continue; }
    pairs=()
    for i in $(seq "$PAIRS"); do
      "${TORCH_ENV[@]}" "$PY" "$REPO/tools/compare/torch_rtf.py" --model "$SCRATCH/models/$m" \
        --clips "$SCRATCH/clips/clips.tsv" --modes "$best" --threads "$THREADS" \
        --json "$OUT/pair$i-torch-$m.json"
      "$PY" "$REPO/tools/compare/quasr_rtf.py" --quasr "$QUASR" --model "$SCRATCH/models/$m" \
        --clips "$SCRATCH/clips/clips.tsv" --tiny "$SCRATCH/clips/tiny.wav" \
        --work "$OUT/quasr-$m" --modes int8-all --threads "$THREADS" --reuse-quantized \
        --json "$OUT/pair$i-quasr-$m.json"
      pairs+=("$OUT/pair$i-torch-$m.json" "$OUT/pair$i-quasr-$m.json")
    done
    "$PY" "$REPO/tools/compare/paired_ratio.py" --model "$m" --pairs "${pairs[@]}" \
      --markdown "$OUT/table.md"
  done
fi
echo "results: $OUT"
