#!/usr/bin/python3
"""Greedy CTC WER of a SpeechBrain-format demo model on data/demo/eval, per split.

Runs each utterance alone (batch 1, no padding), as EncoderASR.transcribe_file
does, through the PyTorch reference in model.py.
"""
import argparse
import collections
import json
import os

import torch

import common


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(here, "../../models/demo"))
    ap.add_argument("--manifest", default=os.path.join(here, "../../data/demo/eval/manifest.jsonl"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--hyps", default="", help="optional jsonl of hypotheses")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net, sp = common.load_folder(args.model)
    errs, words = collections.Counter(), collections.Counter()
    cerrs, chars = collections.Counter(), collections.Counter()
    out = open(args.hyps, "w") if args.hyps else None
    with torch.no_grad():
        for rec in common.load_manifest(args.manifest):
            wav = common.load_audio(rec["path"])[None]
            hyp = sp.decode_ids(common.greedy_ids(net(wav)[0]))
            ref = rec["text"]
            split = rec.get("split", "all")
            for key in (split, "all"):
                errs[key] += common.edit_distance(ref.split(), hyp.split())
                words[key] += len(ref.split())
                cerrs[key] += common.edit_distance(list(ref), list(hyp))
                chars[key] += len(ref)
            if out:
                out.write(json.dumps({"audio_filepath": rec["audio_filepath"], "split": split,
                                      "voice": rec.get("voice"), "ref": ref, "hyp": hyp}) + "\n")
    result = {k: {"wer": round(errs[k] / words[k], 4), "cer": round(cerrs[k] / chars[k], 4),
                  "words": words[k]} for k in words}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
