#!/usr/bin/python3
"""Time the quasr binary on the clip set, in the same terms as torch_rtf.py.

    /usr/bin/python3 tools/compare/quasr_rtf.py --quasr BIN --model DIR --clips MANIFEST.tsv
        --tiny TINY.wav --work WORKDIR [--modes fp32,tutorial,int8-all] [--threads 2]
        [--ref REF.json] [--json OUT.json]

Modes: fp32 runs DIR as is (quasr's default fp32 matmul: bf16x3 on AMX where the CPU has
AMX-BF16); fp32-exact runs it with --fp32-matmul exact (oneDNN's fp32 GEMMs; "skipped" where the
binary has no such option). tutorial / int8-all first run `quasr quantize --preset <mode>` into
WORKDIR/<mode> (calibration: the clips, 10 utterances) when the binary has that subcommand;
without it they are reported as "skipped".

Timing, per mode:
  * `quasr bench` present: `quasr bench --model M --data MANIFEST --warmup 1 --threads T --json J
    --quiet`; per-clip encoder_s and audio_s come from its JSON (bench/schema/bench-result.schema
    .json), peak RSS and model file size from its model record.
  * otherwise `quasr transcribe --threads T --model M CLIP` per clip, wall time of the process;
    the load (and process start) cost is removed by subtracting the median of 3 runs on TINY.wav
    (0.1 s: its own compute is negligible). That time still includes audio decoding, the CTC head
    and greedy decoding, so it slightly over-states the encoder time. Peak RSS = max ru_maxrss of
    the child processes (os.wait4).
RTF = encoder time / audio duration; median over clips, plus total encoder time / total audio.

--ref (export_onnx.py's PyTorch fp32 log-probs of one clip): each mode also writes that clip's
log-probs (`quasr transcribe --logits`) and records max / mean |delta log-prob| and the argmax
agreement against PyTorch, as ort_rtf.js does for the ONNX Runtime rows.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from torch_rtf import read_manifest  # noqa: E402  (manifest parsing only; torch unused here)

SR = 16000


def run_child(cmd):
    """Run cmd; return (returncode, wall seconds, stdout, stderr)."""
    t = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, time.perf_counter() - t, p.stdout, p.stderr


def run_measured(cmd):
    """Run cmd; return (returncode, wall seconds, the child's own peak RSS in bytes, stdout,
    stderr). os.wait4 gives the rusage of that one child (RUSAGE_CHILDREN would be the max over
    every child so far); output goes to temporary files so a full pipe cannot block the wait."""
    with tempfile.TemporaryFile() as fo, tempfile.TemporaryFile() as fe:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, rusage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read().decode(errors="replace"), fe.read().decode(errors="replace")
    return p.returncode, wall, rusage.ru_maxrss * 1024, out, err


def has_subcommand(quasr, name):
    """(present, its --help text). `quasr X --help` for an unknown X prints the MAIN help and
    exits 0 (CLI11), so presence is read from the main help's subcommand list."""
    _, _, out, err = run_child([quasr, "--help"])
    if not re.search(r"^\s+%s\b" % re.escape(name), out + err, re.MULTILINE):
        return False, ""
    rc, _, out, err = run_child([quasr, name, "--help"])
    return rc == 0, out + err


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if os.path.isfile(p) and not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def quantize(quasr, help_text, model, out, mode, clips_tsv, threads):
    """`quasr quantize --model M --out OUT --preset MODE [--calib CLIPS --calib-n 10]`; the
    calibration set is the benchmark clips, as for the PyTorch tutorial mode."""
    def has(option):
        return re.search(r"(^|[\s,])%s\b" % re.escape(option), help_text) is not None
    if not (has("--preset") and has("--out")):
        raise RuntimeError("quasr quantize --help shows no --preset/--out options")
    cmd = [quasr, "quantize", "--model", model, "--out", out, "--preset", mode]
    if has("--calib"):
        cmd += ["--calib", clips_tsv]
    if has("--calib-n"):
        cmd += ["--calib-n", "10"]
    if has("--threads"):
        cmd += ["--threads", str(threads)]
    t = time.perf_counter()
    rc, _, so, se = run_child(cmd)
    if rc != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), rc, (se or so).strip()[-300:]))
    return time.perf_counter() - t, " ".join(cmd)


def time_with_bench(quasr, model, clips_tsv, threads, work, mode, extra):
    jpath = os.path.join(work, "bench-%s.json" % mode)
    cmd = [quasr, "bench", "--model", model, "--data", clips_tsv, "--warmup", "1", "--threads",
           str(threads), "--json", jpath, "--quiet"] + extra
    rc, wall, rss, out, err = run_measured(cmd)
    if rc != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), rc, err.strip()[-300:]))
    with open(jpath, encoding="utf-8") as f:
        run = json.load(f)
    m = run["models"][0]
    clips = [{"path": u["id"], "audio_s": u["audio_s"], "encoder_s": u["encoder_s"],
              "rtf": u["encoder_s"] / u["audio_s"]} for u in run["utterances"]
             if u["model"] == m["name"]]
    peak = m["peak_rss_bytes"] if m["peak_rss_bytes"] > 0 else rss
    return {"timing": "quasr bench", "command": " ".join(cmd), "clips": clips,
            "load_s": m["load_s"], "peak_rss_bytes": peak, "model_bytes": m["file_bytes"]}


def compare_with_ref(quasr, model, threads, extra, ref_json, work, mode):
    """quasr's log-probs of the reference clip against PyTorch fp32's (reference_check.py)."""
    import numpy as np
    from reference_check import delta_from_reference, load_reference
    ref, want = load_reference(ref_json)
    npy = os.path.join(work, "ref-logits-%s.npy" % mode)
    cmd = [quasr, "transcribe", "--threads", str(threads), "--model", model, "--logits", npy]
    rc, _, _, err = run_child(cmd + extra + [ref["clip"]])
    if rc != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), rc, err.strip()[-300:]))
    return delta_from_reference(np.load(npy), ref, want)


def time_with_transcribe(quasr, model, clips, tiny, threads, extra):
    base = [quasr, "transcribe", "--threads", str(threads), "--model", model] + extra
    peak = 0
    loads = []
    for _ in range(3):
        rc, wall, rss, out, err = run_measured(base + [tiny])
        if rc != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(base + [tiny]), rc, err.strip()))
        loads.append(wall)
        peak = max(peak, rss)
    load = statistics.median(loads)
    import torchaudio  # only for the clip durations
    per_clip = []
    for c in clips:
        info = torchaudio.info(c)
        dur = info.num_frames / info.sample_rate
        rc, wall, rss, out, err = run_measured(base + [c])
        if rc != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(base + [c]), rc, err.strip()))
        peak = max(peak, rss)
        enc = max(wall - load, 1e-6)
        per_clip.append({"path": c, "audio_s": dur, "encoder_s": enc, "rtf": enc / dur,
                         "process_s": wall})
    return {"timing": "quasr transcribe per clip minus median load time on a 0.1 s clip",
            "command": " ".join(base) + " CLIP", "clips": per_clip, "load_s": load,
            "peak_rss_bytes": peak, "model_bytes": dir_bytes(model)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quasr", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clips", required=True)
    ap.add_argument("--tiny", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--modes", default="fp32,tutorial,int8-all")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ref", help="PyTorch fp32 log-probs of one clip (export_onnx.py ref.json)")
    ap.add_argument("--json")
    ap.add_argument("--reuse-quantized", action="store_true",
                    help="time the quantized models an earlier call left in --work (run.sh's "
                         "back-to-back pairs) instead of quantizing again")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    has_bench, bench_help = has_subcommand(args.quasr, "bench")
    has_quant, quant_help = has_subcommand(args.quasr, "quantize")
    clips = read_manifest(args.clips)
    result = {"engine": "quasr", "quasr": os.path.abspath(args.quasr), "threads": args.threads,
              "model": os.path.abspath(args.model), "has_bench": has_bench,
              "has_quantize": has_quant, "modes": []}
    for mode in args.modes.split(","):
        res = {"mode": mode, "status": "ok", "error": None}
        model = args.model
        extra = ["--fp32-matmul", "exact"] if mode == "fp32-exact" else []
        try:
            if mode == "fp32-exact" and "--fp32-matmul" not in bench_help:
                res.update(status="skipped", error="quasr has no --fp32-matmul option")
                result["modes"].append(res)
                continue
            if mode not in ("fp32", "fp32-exact"):
                if not has_quant:
                    res.update(status="skipped", error="quasr quantize not available")
                    result["modes"].append(res)
                    continue
                model = os.path.join(args.work, mode)
                if args.reuse_quantized and os.path.isfile(os.path.join(model, "config.json")):
                    res["quantize_command"] = "reused " + model
                else:
                    res["quantize_s"], res["quantize_command"] = quantize(
                        args.quasr, quant_help, args.model, model, mode, args.clips, args.threads)
            if has_bench:
                res.update(time_with_bench(args.quasr, model, args.clips, args.threads,
                                           args.work, mode, extra))
            else:
                res.update(time_with_transcribe(args.quasr, model, clips, args.tiny,
                                                args.threads, extra))
            if args.ref:
                try:  # the timing stands without it
                    res.update(compare_with_ref(args.quasr, model, args.threads, extra, args.ref,
                                                args.work, mode))
                except Exception as e:
                    res["ref_error"] = "%s: %s" % (type(e).__name__, e)
            res["audio_s"] = sum(c["audio_s"] for c in res["clips"])
            res["encoder_s"] = sum(c["encoder_s"] for c in res["clips"])
            res["median_rtf"] = statistics.median(c["rtf"] for c in res["clips"])
            res["total_rtf"] = res["encoder_s"] / res["audio_s"]
            res["rtfx"] = 1.0 / res["median_rtf"]
        except Exception as e:  # one failed mode must not hide the others
            res.update(status="failed", error="%s: %s" % (type(e).__name__, e))
        print("quasr_rtf: %s %s: %s%s" % (os.path.basename(args.model.rstrip("/")), mode,
                                          res["status"],
                                          "" if res["status"] == "ok" else " (%s)" % res["error"]),
              file=sys.stderr)
        result["modes"].append(res)
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
