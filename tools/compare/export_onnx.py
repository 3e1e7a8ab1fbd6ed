#!/usr/bin/python3
"""Export the PyTorch model that torch_rtf.py times to ONNX, for the ONNX Runtime rows.

    /usr/bin/python3 tools/compare/export_onnx.py --model DIR --clips MANIFEST.tsv --out OUTDIR
        [--opset 14] [--ort ORT_PREFIX] [--threads 2]

Writes OUTDIR/model.onnx: input "wav" float32 [1, samples] (16 kHz, dynamic length), output
"log_probs" float32 [frames, vocab] (dynamic frames) -- the same function as torch_rtf.py's
"encoder" (SpeechBrain mods.encoder: lobe + enc + ctc_lin + log_softmax, or HF ForCTC), batch
of one. The model is built by torch_rtf.load_fp32, i.e. exactly what the PyTorch fp32 row runs.

Also writes OUTDIR/ref.json + ref.f32: PyTorch's log-probs on the manifest's first clip (raw
little-endian float32, row-major [frames, vocab]). tools/compare/ort_rtf.js compares every ONNX
model it times against them; with --ort (the npm prefix holding onnxruntime-node) this script
runs that check on the exported model at once and prints max |delta log-prob|.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from torch_rtf import SR, load_clip, load_fp32, lobe_model, read_manifest  # noqa: E402
import wav2vec2_ref  # noqa: E402  (on the path torch_rtf set up: tools/reference)


class LogProbs(nn.Module):
    """[1, S] -> [T, V]: drops the batch axis so the ONNX output is log-probs [frames, vocab]."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, wav):
        return self.model(wav)[0]


def fold_weight_norm(model):
    """Replace the pos conv's weight_norm (g * v / |v| recomputed by a hook on every forward)
    by its value, so the graph holds one plain Conv weight instead of the norm arithmetic on
    every run. Same numbers: the hook computes exactly this weight."""
    conv = lobe_model(model).encoder.pos_conv_embed.conv
    if hasattr(conv, "weight_g"):
        torch.nn.utils.remove_weight_norm(conv)


class _TraceableFunctional:
    """torch.nn.functional with a layer_norm that takes its normalized shape from the input's
    rank only. The SpeechBrain lobe calls F.layer_norm(x, x.shape[1:]) (normalize_wav over the
    samples, output_norm over [T, C]); traced with a dynamic length, that shape is a run-time
    value and torch 1.13's exporter refuses it ("Failed to export ... because it is not
    constant"). Same arithmetic as layer_norm: biased variance, eps inside the square root."""

    def __getattr__(self, name):
        return getattr(torch.nn.functional, name)

    @staticmethod
    def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        dims = tuple(range(-len(normalized_shape), 0))
        mean = x.mean(dims, keepdim=True)
        var = (x - mean).pow(2).mean(dims, keepdim=True)
        y = (x - mean) / torch.sqrt(var + eps)
        if weight is not None:
            y = y * weight
        return y if bias is None else y + bias


@contextlib.contextmanager
def traceable_layer_norm():
    """Only wav2vec2_ref's own F.layer_norm calls (the lobe's two) see the shim; nn.LayerNorm
    modules keep torch's layer_norm, which the exporter handles (static normalized shape)."""
    saved = wav2vec2_ref.F
    wav2vec2_ref.F = _TraceableFunctional()
    try:
        yield
    finally:
        wav2vec2_ref.F = saved


def export(model, path, opset, seconds=2.0):
    """Trace on a dummy clip; both the sample axis and the frame axis are dynamic, so every
    shape in the graph (T, the attention views, the output_norm layer norm over [T, C]) is
    computed from the input's shape at run time."""
    dummy = torch.randn(1, int(seconds * SR)) * 0.1
    with torch.no_grad(), traceable_layer_norm():
        torch.onnx.export(LogProbs(model), (dummy,), path, opset_version=opset,
                          input_names=["wav"], output_names=["log_probs"],
                          dynamic_axes={"wav": {1: "samples"}, "log_probs": {0: "frames"}},
                          do_constant_folding=True)


def write_reference(model, clip, outdir):
    """PyTorch log-probs of one clip, read back by ort_rtf.js (raw float32, no numpy format)."""
    wav = load_clip(clip)
    with torch.no_grad():
        lp = model(wav)[0].numpy().astype("<f4")
    lp.tofile(os.path.join(outdir, "ref.f32"))
    ref = {"clip": clip, "frames": int(lp.shape[0]), "vocab": int(lp.shape[1]), "data": "ref.f32"}
    with open(os.path.join(outdir, "ref.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1)
    return ref


def check_with_ort(onnx_path, outdir, ort_prefix, threads):
    """Runs the exported model on the reference clip through onnxruntime-node; None when node or
    the package is missing (the export is still usable)."""
    node = shutil.which("node")
    if node is None or not os.path.isdir(os.path.join(ort_prefix, "node_modules",
                                                      "onnxruntime-node")):
        print("export_onnx: check skipped (node or onnxruntime-node under %s missing)"
              % ort_prefix, file=sys.stderr)
        return None
    cmd = [node, os.path.join(HERE, "ort_rtf.js"), "--check", onnx_path,
           "--ref", os.path.join(outdir, "ref.json"), "--ort", ort_prefix,
           "--threads", str(threads)]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="model folder (as for torch_rtf.py)")
    ap.add_argument("--clips", required=True, help="TSV manifest; its first clip is the check")
    ap.add_argument("--out", required=True, help="output folder (model.onnx, ref.json, ref.f32)")
    ap.add_argument("--opset", type=int, default=14)
    ap.add_argument("--ort", help="npm prefix with onnxruntime-node: check the export with it")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    model = load_fp32(args.model)
    clip = read_manifest(args.clips)[0]
    ref = write_reference(model, clip, args.out)  # before folding: the reference is the
    fold_weight_norm(model)                        # model exactly as torch_rtf.py runs it
    path = os.path.join(args.out, "model.onnx")
    tmp = path + ".tmp"
    export(model, tmp, args.opset)
    os.replace(tmp, path)  # a half-written file must not look like a finished export
    print("export_onnx: %s (%.0f MiB, opset %d) in %.1f s; reference: %s, %d x %d" % (
        path, os.path.getsize(path) / 2**20, args.opset, time.perf_counter() - t0,
        os.path.basename(clip), ref["frames"], ref["vocab"]))
    if args.ort:
        res = check_with_ort(path, args.out, args.ort, args.threads)
        if res is not None:
            print("export_onnx: ONNX Runtime vs PyTorch on %s: max |delta log-prob| = %.3g "
                  "(mean %.3g, argmax agreement %.4f)" % (
                      os.path.basename(clip), res["max_abs_dlogprob"],
                      res["mean_abs_dlogprob"], res["argmax_agree"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
