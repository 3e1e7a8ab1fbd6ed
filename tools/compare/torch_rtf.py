#!/usr/bin/python3
"""Time the PyTorch reference implementation of a wav2vec2 CTC model folder on a list of clips.

    /usr/bin/python3 tools/compare/torch_rtf.py --model DIR --clips MANIFEST.tsv
        [--modes fp32,dynamic,tutorial] [--threads 2] [--calib N] [--ref REF.json]
        [--json OUT.json]

The model is built by tools/reference/wav2vec2_ref.py (the independent re-implementation of
SpeechBrain EncoderASR / HF Wav2Vec2ForCTC) and its weights are read from the same files quasr
reads (SpeechBrain: hyperparams.yaml, wav2vec2.ckpt, asr.ckpt, the lobe's config.json; HF:
config.json + model.safetensors / pytorch_model.bin). MANIFEST.tsv: "path<TAB>text" lines with an
optional header (quasr's TSV manifest format); paths relative to the manifest's folder; 16 kHz.

Per mode, in a fresh child process (so peak RSS is per mode): load, quantize, warm up on the
first clip and the longest, then time the encoder forward of every clip once (batch of one, torch.no_grad,
torch.set_num_threads(T)). "Encoder" = SpeechBrain's mods.encoder (lobe + enc + ctc_lin +
log_softmax) or HF's Wav2Vec2ForCTC forward. RTF = encoder time / audio duration (the
SpeechBrain quantization tutorial's definition); median over clips, and total time / total audio.

Modes:
  fp32      the model as loaded.
  dynamic   torch.ao.quantization.quantize_dynamic on every nn.Linear (qint8).
  tutorial  the SpeechBrain quantization tutorial's recipe: dynamic quantization of
            encoder.wav2vec2.model.encoder.layers and encoder.enc; static quantization
            (QuantStub/DeQuantStub wrapper, default_qconfig, calibration on --calib clips) of
            encoder.wav2vec2.model.feature_extractor and .feature_projection; ctc_lin stays fp32.
A mode that fails is reported with status "failed" and the error; the others still run.

--ref (export_onnx.py's PyTorch fp32 log-probs of one clip): each mode's log-probs of that clip
are also compared with them (max / mean |delta log-prob|, argmax agreement), as the quasr and
ONNX Runtime rows are: what each recipe costs in accuracy, side by side.
"""

import argparse
import copy
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import traceback

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "reference"))
sys.path.insert(0, HERE)

from model_folder import load_model_folder  # noqa: E402
from reference_check import delta_from_reference, load_reference  # noqa: E402

SR = 16000


def read_manifest(path):
    """quasr TSV manifest: path<TAB>text; header skipped when its first field names a path."""
    base = os.path.dirname(os.path.abspath(path))
    clips = []
    with open(path, encoding="utf-8-sig") as f:
        for i, line in enumerate(f):
            line = line.rstrip("\r\n")
            if not line:
                continue
            first = line.split("\t", 1)[0]
            if i == 0 and first.lower() in ("path", "audio", "audio_path", "audio_filepath", "wav",
                                             "file", "filename"):
                continue
            clips.append(first if os.path.isabs(first) else os.path.join(base, first))
    return clips


def load_clip(path):
    import torchaudio  # imported lazily: only the timing child needs it
    wav, sr = torchaudio.load(path)
    if sr != SR:
        raise ValueError("%s: sample rate %d, expected %d (resample the clips first)" % (path, sr, SR))
    return wav.mean(0, keepdim=True).contiguous()  # [1, S]


class StaticQuant(nn.Module):
    """The tutorial's static-quantization wrapper: quantize the input, run the float module
    (swapped to quantized modules by convert), dequantize every output (tuples included)."""

    def __init__(self, module):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.model = module
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x, *args, **kwargs):
        y = self.model(self.quant(x), *args, **kwargs)
        if isinstance(y, tuple):
            return tuple(self.dequant(t) for t in y)
        return self.dequant(y)


def lobe_model(model):
    """The HF Wav2Vec2Model inside either model flavour."""
    return model.wav2vec2.model if hasattr(model, "asr") else model.body


def quantize_extractor_static(model, calib):
    """The tutorial's static part: CNN feature extractor and feature projection, default
    qconfig, calibrated by running the whole model on `calib`."""
    w2v = lobe_model(model)
    for name in ("feature_extractor", "feature_projection"):
        wrapped = StaticQuant(getattr(w2v, name))
        wrapped.qconfig = torch.ao.quantization.default_qconfig
        torch.ao.quantization.prepare(wrapped, inplace=True)
        setattr(w2v, name, wrapped)
    with torch.no_grad():
        for wav in calib:
            model(wav)
    for name in ("feature_extractor", "feature_projection"):
        torch.ao.quantization.convert(getattr(w2v, name), inplace=True)
    return model


def quantize_tutorial(model, calib):
    if not hasattr(model, "asr"):
        raise ValueError("the tutorial recipe is defined for SpeechBrain EncoderASR models")
    w2v = lobe_model(model)
    # Dynamic: the transformer layers and the DNN head (tutorial: encoder.wav2vec2.model.encoder.
    # layers and encoder.enc), nn.Linear only, qint8.
    w2v.encoder.layers = torch.ao.quantization.quantize_dynamic(
        w2v.encoder.layers, {nn.Linear}, dtype=torch.qint8)
    model.asr[0] = torch.ao.quantization.quantize_dynamic(model.asr[0], {nn.Linear},
                                                          dtype=torch.qint8)
    return quantize_extractor_static(model, calib)


def serialized_bytes(model):
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def load_fp32(model_dir):
    """The fp32 model every mode starts from (also imported by export_onnx.py, so the ONNX
    export runs exactly this model)."""
    model = load_model_folder(model_dir)
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        # weight_norm keeps the derived pos-conv weight with its autograd history from module
        # creation, and quantize_dynamic's deepcopy refuses such tensors; one forward under
        # no_grad recomputes it (the hook still runs on every forward, as in PyTorch proper).
        model(torch.zeros(1, SR))
    return model


def compare_with_ref(model, ref_json):
    """The model's log-probs of the reference clip against PyTorch fp32's (reference_check.py)."""
    ref, want = load_reference(ref_json)
    with torch.no_grad():
        out = model(load_clip(ref["clip"]))
    got = (out[0] if isinstance(out, (tuple, list)) else out).squeeze(0).numpy()
    return delta_from_reference(got, ref, want)


def run_mode(model_dir, clips, mode, threads, n_calib, ref_json=None):
    """Runs in the child process; returns the mode's result dict."""
    torch.set_num_threads(threads)
    out = {"mode": mode, "status": "ok", "error": None}
    t0 = time.perf_counter()
    model = load_fp32(model_dir)
    out["load_s"] = time.perf_counter() - t0
    wavs = [load_clip(c) for c in clips]
    t0 = time.perf_counter()
    stage = "quantize"
    try:
        if mode == "dynamic":
            model = torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
        elif mode == "tutorial":
            calib = [wavs[i % len(wavs)] for i in range(n_calib)]
            model = quantize_tutorial(model, calib)
        elif mode != "fp32":
            raise ValueError("unknown mode " + mode)
        out["quantize_s"] = time.perf_counter() - t0
        out["model_bytes"] = serialized_bytes(model)
        stage = "warm-up"
        with torch.no_grad():
            model(wavs[0])
            # The longest clip too, as every engine here warms up (quasr bench warms up on
            # the largest files: buffers reach their steady-state size before timing).
            model(max(wavs, key=lambda w: w.shape[1]))
            stage = "timing"
            per_clip = []
            for path, wav in zip(clips, wavs):
                t = time.perf_counter()
                model(wav)
                dt = time.perf_counter() - t
                dur = wav.shape[1] / SR
                per_clip.append({"path": path, "audio_s": dur, "encoder_s": dt, "rtf": dt / dur})
        if ref_json:
            stage = "reference check"
            out.update(compare_with_ref(model, ref_json))
    except Exception as e:  # reported, not hidden: the tutorial recipe is expected to break
        out["status"] = "failed"
        out["error"] = "%s: %s: %s" % (stage, type(e).__name__, str(e).splitlines()[0] if str(e) else "")
        out["traceback"] = traceback.format_exc(limit=6)
        return out
    out["clips"] = per_clip
    out["audio_s"] = sum(c["audio_s"] for c in per_clip)
    out["encoder_s"] = sum(c["encoder_s"] for c in per_clip)
    out["median_rtf"] = statistics.median(c["rtf"] for c in per_clip)
    out["total_rtf"] = out["encoder_s"] / out["audio_s"]
    out["rtfx"] = 1.0 / out["median_rtf"]
    return out


def blas_library():
    """The BLAS shared object this process mapped: Debian's torch links libblas.so.3, which the
    alternatives system may point at netlib's reference BLAS (~1 GFLOP/s) or at OpenBLAS."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.split()[-1]}
    except OSError:
        return None
    return sorted(os.path.realpath(x) for x in libs if x.startswith("/"))


def child_main(args):
    res = run_mode(args.model, read_manifest(args.clips), args.child, args.threads, args.calib,
                   args.ref)
    res["blas"] = blas_library()
    res["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    json.dump(res, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--clips", required=True, help="TSV manifest (path<TAB>text)")
    ap.add_argument("--modes", default="fp32,dynamic,tutorial")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--calib", type=int, default=10, help="calibration clips (tutorial mode)")
    ap.add_argument("--ref", help="PyTorch fp32 log-probs of one clip (export_onnx.py ref.json)")
    ap.add_argument("--json", help="write the result here (default: stdout)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(args)
    result = {"engine": "pytorch", "torch": torch.__version__,
              "quantized_engine": torch.backends.quantized.engine, "threads": args.threads,
              "model": os.path.abspath(args.model), "clips": read_manifest(args.clips), "modes": []}
    for mode in args.modes.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--model", args.model, "--clips",
               args.clips, "--threads", str(args.threads), "--calib", str(args.calib),
               "--child", mode] + (["--ref", args.ref] if args.ref else [])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if p.returncode == 0:
            res = json.loads(p.stdout)
        else:  # crashed hard (e.g. killed for memory): still one honest row
            tail = p.stderr.strip().splitlines()[-1:] or ["exit %d" % p.returncode]
            res = {"mode": mode, "status": "failed", "error": "exit %d: %s" % (p.returncode, tail[0])}
        extra = "" if res["status"] == "ok" else " (%s)" % res["error"]
        print("torch_rtf: %s %s: %s%s" % (os.path.basename(args.model.rstrip("/")), mode,
                                          res["status"], extra), file=sys.stderr)
        result["modes"].append(res)
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
