"""Writers for the on-disk formats the fixtures use: safetensors (by hand), torch.save zips,
float32 WAV, Hugging Face hub-cache layout. Everything here is deterministic."""

import hashlib
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch

_ST_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}


def write_safetensors(path: str, tensors: "OrderedDict[str, torch.Tensor]", metadata=None):
    """safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}} plus
    __metadata__, padded with spaces to a multiple of 8, then the raw little-endian data.
    Tensors are laid out in sorted-name order."""
    header = OrderedDict()
    header["__metadata__"] = metadata if metadata is not None else {"format": "pt"}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> "OrderedDict[str, torch.Tensor]":
    """Minimal reader used to self-check the writer."""
    inv = {v: k for k, v in _ST_DTYPES.items()}
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = OrderedDict()
    base = 8 + n
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = inv[info["dtype"]]
        arr = np.frombuffer(raw[base + b:base + e], dtype=torch.empty(0, dtype=dt).numpy().dtype)
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


def clone_state_dict(sd) -> "OrderedDict[str, torch.Tensor]":
    """Detached, contiguous, storage-independent copy that keeps `_metadata` like state_dict()."""
    out = OrderedDict((k, v.detach().clone().contiguous()) for k, v in sd.items())
    if hasattr(sd, "_metadata"):
        out._metadata = sd._metadata  # pylint: disable=protected-access
    return out


def to_parametrizations(sd, prefix_pos_conv: str):
    """Rename `<p>.conv.weight_g/_v` to torch>=2.1's `<p>.conv.parametrizations.weight.original0/1`,
    keeping key order (bias first, then original0, original1 as newer torch writes them)."""
    out = OrderedDict()
    g, v = prefix_pos_conv + ".conv.weight_g", prefix_pos_conv + ".conv.weight_v"
    for k, t in sd.items():
        if k == g:
            out[prefix_pos_conv + ".conv.parametrizations.weight.original0"] = t
        elif k == v:
            out[prefix_pos_conv + ".conv.parametrizations.weight.original1"] = t
        else:
            out[k] = t
    # parametrized modules list their own params (bias) before the parametrization's
    bias = prefix_pos_conv + ".conv.bias"
    keys = list(out)
    if bias in keys:
        i0 = keys.index(prefix_pos_conv + ".conv.parametrizations.weight.original0")
        ib = keys.index(bias)
        if ib > i0:
            keys.remove(bias)
            keys.insert(i0, bias)
    res = OrderedDict((k, out[k]) for k in keys)
    if hasattr(sd, "_metadata"):
        res._metadata = sd._metadata  # pylint: disable=protected-access
    return res


def torch_save(obj, path: str):
    """torch.save in the default zip format (torch 1.13 names the zip's top folder after the file
    stem, e.g. pytorch_model/data.pkl)."""
    torch.save(obj, path)


def write_json(path: str, obj, indent=2, sort_keys=False):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
        f.write("\n")


def write_wav_f32(path: str, samples: np.ndarray, sr: int = 16000):
    """Mono IEEE-float (format 3) WAV: RIFF, fmt (18 bytes, cbSize 0), fact, data."""
    data = np.asarray(samples, dtype="<f4").tobytes()
    n = len(samples)
    fmt = struct.pack("<HHIIHHH", 3, 1, sr, sr * 4, 4, 32, 0)
    fact = struct.pack("<I", n)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" +
            struct.pack("<I", len(fact)) + fact + b"data" + struct.pack("<I", len(data)) + data)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def read_wav_f32(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:4] == b"RIFF" and raw[8:12] == b"WAVE"
    pos = 12
    while pos < len(raw):
        cid, size = raw[pos:pos + 4], struct.unpack("<I", raw[pos + 4:pos + 8])[0]
        if cid == b"data":
            return np.frombuffer(raw[pos + 8:pos + 8 + size], dtype="<f4").copy()
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk in " + path)


def git_blob_sha1(data: bytes) -> str:
    """The id the Hub (git) gives a small non-LFS file; HF's cache names such blobs by it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_hf_cache(save_path: str, repo_id: str, files: dict, commit: str):
    """Hugging Face hub cache layout as created by from_pretrained(repo_id, cache_dir=save_path):
    models--<org>--<name>/{refs/main, blobs/<sha>, snapshots/<commit>/<file> -> ../../blobs/<sha>}."""
    root = os.path.join(save_path, "models--" + repo_id.replace("/", "--"))
    os.makedirs(os.path.join(root, "refs"), exist_ok=True)
    os.makedirs(os.path.join(root, "blobs"), exist_ok=True)
    snap = os.path.join(root, "snapshots", commit)
    os.makedirs(snap, exist_ok=True)
    with open(os.path.join(root, "refs", "main"), "w", encoding="utf-8") as f:
        f.write(commit)  # no trailing newline, as huggingface_hub writes it
    for name, data in files.items():
        sha = git_blob_sha1(data)
        with open(os.path.join(root, "blobs", sha), "wb") as f:
            f.write(data)
        link = os.path.join(snap, name)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.path.join("..", "..", "blobs", sha), link)
    return snap
