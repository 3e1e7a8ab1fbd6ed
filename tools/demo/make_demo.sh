#!/bin/sh
# Reproduces the quasr demo corpus, model and evaluation from scratch.
# Needs Debian's espeak-ng, flite, festival (+ festvox-kallpc16k, festvox-kdlpc16k,
# festvox-us-slt-hts), python3-torch/torchaudio/sentencepiece/yaml and, for speed,
# libopenblas0-pthread (Debian's torch otherwise runs on the reference BLAS).
# Usage: tools/demo/make_demo.sh [UTC-deadline HH:MM]
set -eu
cd "$(dirname "$0")"
SCRATCH=${SCRATCH:-/work/scratch/demo}
SEED=${SEED:-1234}
OB=/usr/lib/x86_64-linux-gnu/openblas-pthread
if [ -e "$OB/libblas.so.3" ]; then
  export LD_LIBRARY_PATH="$OB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPENBLAS_NUM_THREADS=1
fi
mkdir -p "$SCRATCH"
# 1. Speech: eval + calib into data/demo, training audio into $SCRATCH (one process).
nice -n 10 /usr/bin/python3 synthesize.py --scratch "$SCRATCH" --seed "$SEED"
# 2. Train (1 thread); writes models/demo after every epoch that improves dev WER.
DEADLINE=${1:-}
nice -n 10 /usr/bin/python3 train.py --scratch "$SCRATCH" --seed "$SEED" --epochs 6 \
  --batch-seconds 30 ${DEADLINE:+--deadline "$DEADLINE"} 2>&1 | tee "$SCRATCH/train.log"
# 3. Greedy CTC WER per split (seen_voice / held_out_voice).
/usr/bin/python3 evaluate.py --hyps "$SCRATCH/eval_hyps.jsonl" | tee ../../models/demo/eval_wer.json
