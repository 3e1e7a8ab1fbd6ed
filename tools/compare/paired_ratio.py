#!/usr/bin/python3
"""quasr int8-all against PyTorch's best int8 recipe, from back-to-back pairs of runs.

    /usr/bin/python3 tools/compare/paired_ratio.py --best-of TORCH.json
    /usr/bin/python3 tools/compare/paired_ratio.py --pairs TORCH1.json QUASR1.json [...] \
        [--markdown OUT.md]

The main comparison times every PyTorch mode, then every quasr mode, then ONNX Runtime: minutes
apart. On a shared machine the load drifts over minutes, and PyTorch's time moves with it more
than quasr's (its median RTF on large ranged 0.20-0.29 between runs of one day while quasr's
ranged 0.022-0.026), so one ratio of two medians taken minutes apart carries that drift. run.sh
therefore also times PyTorch's best int8 mode and quasr int8-all alternately, a pair at a time,
and this script reports each pair's ratio of medians and the median of those ratios.

--best-of prints the PyTorch int8 mode (dynamic or tutorial) with the lower median RTF in a
torch_rtf.py result, or nothing when neither ran.
"""

import argparse
import json
import statistics
import sys


def modes(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    return {m["mode"]: m for m in d["modes"] if m.get("status") == "ok"}


def best_int8_mode(torch_json):
    ok = modes(torch_json)
    found = [(ok[m]["median_rtf"], m) for m in ("dynamic", "tutorial") if m in ok]
    return min(found)[1] if found else ""


def pair_rows(paths):
    if len(paths) % 2:
        raise SystemExit("paired_ratio.py: --pairs takes TORCH.json QUASR.json pairs")
    rows = []
    for i in range(0, len(paths), 2):
        torch_modes, quasr_modes = modes(paths[i]), modes(paths[i + 1])
        if len(torch_modes) != 1 or "int8-all" not in quasr_modes:
            raise SystemExit("paired_ratio.py: %s / %s: want one PyTorch mode and quasr int8-all"
                             % (paths[i], paths[i + 1]))
        (mode, torch_row), = torch_modes.items()
        q = quasr_modes["int8-all"]["median_rtf"]
        rows.append((mode, torch_row["median_rtf"], q, q / torch_row["median_rtf"]))
    return rows


def markdown(rows, model):
    lines = ["", "Back-to-back pairs on %s (PyTorch's best int8 mode, then quasr int8-all; median "
             "RTF of each run):" % model, "",
             "| pair | PyTorch mode | PyTorch | quasr int8-all | quasr / PyTorch |",
             "|---|---|---|---|---|"]
    for i, (mode, t, q, r) in enumerate(rows, 1):
        lines.append("| %d | %s | %.4f | %.4f | %.3f |" % (i, mode, t, q, r))
    lines.append("")
    lines.append("Median of the pairs' ratios: %.3f" % statistics.median(r[3] for r in rows))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--best-of", metavar="TORCH_JSON")
    ap.add_argument("--pairs", nargs="+", metavar="JSON")
    ap.add_argument("--model", default="large", help="model name for the heading")
    ap.add_argument("--markdown", help="append the section to this Markdown file")
    args = ap.parse_args()
    if args.best_of:
        print(best_int8_mode(args.best_of))
        return 0
    if not args.pairs:
        ap.error("give --best-of or --pairs")
    text = markdown(pair_rows(args.pairs), args.model)
    sys.stdout.write(text)
    if args.markdown:
        with open(args.markdown, "a", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
