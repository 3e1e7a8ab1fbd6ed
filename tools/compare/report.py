#!/usr/bin/python3
"""Print the comparison table from torch_rtf.py and quasr_rtf.py JSON files.

    /usr/bin/python3 tools/compare/report.py RESULT.json... [--markdown OUT.md]

Rows: every (model, engine, mode). Ratios pair each quasr mode with its PyTorch counterpart:
fp32 <-> fp32, tutorial <-> tutorial, int8-all <-> dynamic (all Linear layers int8).
"RTF q/pt" = quasr median RTF / PyTorch median RTF (below 1: quasr is faster); "RSS q/pt" and
"size q/pt" likewise; "x vs pt fp32" = PyTorch fp32 median RTF / this row's median RTF.
"""

import argparse
import json
import os
import sys

PARTNER = {"fp32": "fp32", "tutorial": "tutorial", "int8-all": "dynamic"}
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
            "peak RSS MiB", "size MiB", "RTF q/pt", "RSS q/pt", "size q/pt", "x vs pt fp32"]
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
                 fmt(ratio(fp_rtf, get("median_rtf")), ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
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
