"""PyTorch fp32's log-probs of one clip (export_onnx.py's ref.json + ref.f32) and how far another
run's log-probs of that clip are from them: the accuracy notes of every compare row."""
import json
import os

import numpy as np


def load_reference(ref_json):
    """(the ref.json dict, its [frames, vocab] log-probs as float64)."""
    with open(ref_json, encoding="utf-8") as f:
        ref = json.load(f)
    want = np.fromfile(os.path.join(os.path.dirname(ref_json), ref["data"]), dtype="<f4")
    return ref, want.reshape(ref["frames"], ref["vocab"]).astype(np.float64)


def delta_from_reference(got, ref, want):
    """max / mean |delta log-prob| and argmax agreement of `got` [frames, vocab] against `want`."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise RuntimeError("log-probs %s vs reference %s" % (got.shape, want.shape))
    delta = np.abs(got - want)
    return {"ref_clip": ref["clip"], "max_abs_dlogprob": float(delta.max()),
            "mean_abs_dlogprob": float(delta.mean()),
            "argmax_agree": float((got.argmax(1) == want.argmax(1)).mean())}
