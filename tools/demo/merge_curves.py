#!/usr/bin/python3
"""Concatenate the loss_curve.csv files of consecutive training stages (a stage
continues from the previous one's checkpoint with --init-from) into one curve.

Usage: merge_curves.py OUT.csv STAGE1.csv STAGE2.csv ...   (also writes OUT.svg)
An input may itself be a merged curve (it has a "stage" column): its stages are kept
and the following inputs are numbered after them.
"""
import csv
import sys

import plot


def main():
    out, stages = sys.argv[1], sys.argv[2:]
    rows, step_off, epoch_off, audio_off, time_off = [], 0, 0, 0.0, 0.0
    stage_off = 0
    for path in stages:
        last = None
        with open(path) as f:
            for r in csv.DictReader(f):
                r["stage"] = stage_off + int(r.get("stage") or 1)
                r["epoch"] = int(r["epoch"]) + epoch_off
                r["step"] = int(r["step"]) + step_off
                r["elapsed_s"] = round(float(r["elapsed_s"]) + time_off, 1)
                r["audio_s"] = round(float(r["audio_s"]) + audio_off)
                rows.append(r)
                last = r
        stage_off = last["stage"]
        step_off, epoch_off = last["step"], last["epoch"]
        time_off, audio_off = last["elapsed_s"], last["audio_s"]
    with open(out, "w", newline="") as f:
        w = csv.DictWriter(f, ["stage", "epoch", "step", "elapsed_s", "audio_s", "train_loss",
                               "lr", "dev_wer"])
        w.writeheader()
        w.writerows(rows)
    plot.write_svg(out, out[:-4] + ".svg")


if __name__ == "__main__":
    main()
