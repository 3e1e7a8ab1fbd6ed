#!/usr/bin/python3
"""Make the fixed clip set for bench/compare: N clips of MIN..MAX seconds, 16 kHz mono float32 WAV,
plus a TSV manifest (quasr's "path<TAB>text" format) and a 0.1 s clip used to measure quasr's
load time when `quasr bench` is unavailable.

    /usr/bin/python3 tools/compare/make_clips.py --out /work/scratch/compare/clips [--n 8]
        [--min 3] [--max 15] [--data /work/shared/data/ljspeech-part]

Source: LJSpeech FLACs (22.05 kHz) when --data has flac/ and transcripts.tsv; the clips are chosen
deterministically to spread over the duration range (sorted by duration, evenly spaced picks) and
resampled with torchaudio's sinc resampler. Otherwise synthetic speech-like audio (the fixture
generator's synth_utterance) of evenly spaced lengths. Never writes into the repository.
"""

import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
sys.path.insert(0, os.path.dirname(HERE))

import formats  # noqa: E402

SR = 16000


def ljspeech_clips(data, n, lo, hi):
    import torchaudio
    texts = {}
    with open(os.path.join(data, "transcripts.tsv"), encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) == 2:
                texts[parts[0]] = parts[1]
    cands = []
    for name in sorted(os.listdir(os.path.join(data, "flac"))):
        if not name.endswith(".flac"):
            continue
        path = os.path.join(data, "flac", name)
        info = torchaudio.info(path)
        dur = info.num_frames / info.sample_rate
        if lo <= dur <= hi and name[:-5] in texts:
            cands.append((dur, name[:-5], path))
    if len(cands) < n:
        return None
    cands.sort()
    picks = [cands[round(i * (len(cands) - 1) / max(1, n - 1))] for i in range(n)]
    out = []
    for dur, uid, path in picks:
        wav, sr = torchaudio.load(path)
        wav = torchaudio.functional.resample(wav.mean(0), sr, SR)
        out.append((uid, wav.numpy(), texts[uid]))
    return out


def synthetic_clips(n, lo, hi):
    from make_model_fixtures import synth_utterance
    out = []
    for i in range(n):
        dur = lo + (hi - lo) * i / max(1, n - 1)
        out.append(("synth%02d" % i, synth_utterance(int(dur * SR), 9000 + i), "synthetic"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="/work/scratch/compare/clips")
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--min", type=float, default=3.0)
    ap.add_argument("--max", type=float, default=15.0)
    ap.add_argument("--data", default="/work/shared/data/ljspeech-part")
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(HERE))
    if os.path.abspath(args.out).startswith(repo + os.sep):
        sys.exit("make_clips: --out %s is inside the repository" % args.out)
    torch.set_num_threads(1)
    clips = None
    if os.path.isdir(os.path.join(args.data, "flac")):
        clips = ljspeech_clips(args.data, args.n, args.min, args.max)
    source = "ljspeech" if clips else "synthetic"
    if not clips:
        clips = synthetic_clips(args.n, args.min, args.max)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "clips.tsv"), "w", encoding="utf-8") as f:
        f.write("path\ttext\n")
        for uid, wav, text in clips:
            formats.write_wav_f32(os.path.join(args.out, uid + ".wav"), wav, SR)
            f.write("%s.wav\t%s\n" % (uid, text.replace("\t", " ")))
    from make_model_fixtures import synth_utterance
    formats.write_wav_f32(os.path.join(args.out, "tiny.wav"), synth_utterance(SR // 10, 77), SR)
    total = sum(len(w) for _, w, _ in clips) / SR
    print("%s: %d %s clips, %.1f s of audio (%.1f..%.1f s)" % (
        args.out, len(clips), source, total, min(len(w) for _, w, _ in clips) / SR,
        max(len(w) for _, w, _ in clips) / SR))


if __name__ == "__main__":
    main()
