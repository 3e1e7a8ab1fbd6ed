#!/usr/bin/python3
"""Print the comparison table from torch_rtf.py, quasr_rtf.py and ort_rtf.js JSON files.

    /usr/bin/python3 tools/compare/report.py RESULT.json... [--markdown OUT.md]

Rows: every (model, engine, mode). Ratios pair each quasr mode with its PyTorch counterpart:
fp32 <-> fp32, tutorial <-> tutorial, int8-all <-> dynamic (all Linear layers int8).
"RTF q/pt" = quasr median RTF / PyTorch median RTF (below 1: quasr is faster); "RSS q/pt" and
"size q/pt" likewise; "x vs pt fp32" = PyTorch fp32 median RTF / this row's median RTF.
"RTF q/ort" = quasr median RTF / ONNX Runtime median RTF, pairing quasr fp32 <-> ORT fp32 and
quasr int8-all <-> ORT int8 (ORT int8: every MatMul dynamic int8, convs fp32; quasr int8-all
also runs the convs static int8, so quasr's `dynamic` preset, paired with ORT int8 too when it
is run, is the like-for-like one). ONNX Runtime rows also note their max |delta log-prob|
against PyTorch fp32 on the reference clip.
"""

import argparse
import json
import os
import sys

PARTNER = {"fp32": "fp32", "fp32-exact": "fp32", "tutorial": "tutorial", "int8-all": "dynamic"}
ORT_PARTNER = {"fp32": "fp32", "fp32-exact": "fp32", "int8-all": "int8", "dynamic": "int8"}
MiB = 1024.0 * 1024.0


def load_rows(paths):
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            d = json.load(f)
        model = os.path.basename(d["model"].rstrip("/"))
        for m in d["modes"]:
            rows.append(dict(m, engine=d["engine"], model=model, threads=d.get("threads")))
    return rows


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def table(rows):
    head = ["model", "engine", "mode", "status", "median RTF", "total RTF", "RTFx",
            "peak RSS MiB", "size MiB", "RTF q/pt", "RSS q/pt", "size q/pt", "x vs pt fp32",
            "RTF q/ort"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by_key = {(r["model"], r["engine"], r["mode"]): r for r in rows}
    notes = []
    for r in rows:
        ok = r["status"] == "ok"
        get = (lambda k: r.get(k) if ok else None)
        pt = by_key.get((r["model"], "pytorch", PARTNER.get(r["mode"], ""))) \
            if r["engine"] == "quasr" else None
        pt_ok = pt is not None and pt["status"] == "ok"
        ptv = (lambda k: pt.get(k) if pt_ok else None)
        ort = by_key.get((r["model"], "onnxruntime", ORT_PARTNER.get(r["mode"], ""))) \
            if r["engine"] == "quasr" else None
        ort_rtf = ort.get("median_rtf") if ort and ort["status"] == "ok" else None
        fp = by_key.get((r["model"], "pytorch", "fp32"))
        fp_rtf = fp.get("median_rtf") if fp and fp["status"] == "ok" else None
        rss = get("peak_rss_bytes")
        size = get("model_bytes")
        cells = [r["model"], r["engine"], r["mode"], r["status"], fmt(get("median_rtf"), ".3f"),
                 fmt(get("total_rtf"), ".3f"), fmt(get("rtfx"), ".2f"),
                 fmt(rss / MiB if rss else None, ".0f"), fmt(size / MiB if size else None, ".0f"),
                 fmt(ratio(get("median_rtf"), ptv("median_rtf")), ".2f"),
                 fmt(ratio(rss, ptv("peak_rss_bytes")), ".2f"),
                 fmt(ratio(size, ptv("model_bytes")), ".2f"),
                 fmt(ratio(fp_rtf, get("median_rtf")), ".2f"),
                 fmt(ratio(get("median_rtf"), ort_rtf), ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
        if ok and r.get("max_abs_dlogprob") is not None:
            notes.append("- %s %s %s: max |delta log-prob| vs PyTorch fp32 on %s: %.3g (mean "
                         "%.3g, argmax agreement %.1f%%)" % (
                             r["model"], r["engine"], r["mode"],
                             os.path.basename(r.get("ref_clip") or "?"), r["max_abs_dlogprob"],
                             r["mean_abs_dlogprob"], 100 * r["argmax_agree"]))
        if not ok:
            notes.append("- %s %s %s: %s: %s" % (r["model"], r["engine"], r["mode"], r["status"],
                                                 r.get("error")))
    return "\n".join(lines), notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("results", nargs="+")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    rows = load_rows(args.results)
    text, notes = table(rows)
    threads = sorted({str(r["threads"]) for r in rows if r.get("threads") is not None})
    out = text + "\n\nthreads: %s; RTF = encoder time / audio duration (median over clips)\n" % (
        ", ".join(threads))
    if notes:
        out += "\n" + "\n".join(notes) + "\n"
    print(out)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
