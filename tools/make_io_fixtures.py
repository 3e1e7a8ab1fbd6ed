#!/usr/bin/python3
"""Writes the io layer's test fixtures to tests/fixtures/io/ (committed; tests never run Python).

Run with Debian's interpreter (torch 1.13, numpy):  /usr/bin/python3 tools/make_io_fixtures.py

The malicious pickles are only ever written here, never loaded.
"""
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "io")

DTYPE_NAMES = {
    torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
    torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
    torch.uint8: "U8", torch.bool: "BOOL",
}


def describe(tensor):
    """Name-independent description of a tensor, as PyTorch sees it."""
    flat = tensor.contiguous().reshape(-1)
    if tensor.dtype.is_floating_point:
        values = [float(v) for v in flat.to(torch.float64).tolist()]
        total = float(flat.to(torch.float64).sum())
    else:
        values = [int(v) for v in flat.to(torch.int64).tolist()]
        total = int(flat.to(torch.int64).sum())
    return {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape),
            "values": values, "sum": total}


def path(name):
    return os.path.join(OUT, name)


def fixed_time(name):
    """A zip entry with a fixed date so that rerunning this script gives the same bytes."""
    return zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))


def rezip(source, target, folder):
    """Copies a torch.save zip, renaming its top folder (torch's own name is the file stem)."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            rest = info.filename.split("/", 1)[1]
            dst.writestr(fixed_time(folder + "/" + rest), src.read(info.filename))


def torch_like_zip(target, pickle_bytes, folder="archive"):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as z:
        z.writestr(fixed_time(folder + "/data.pkl"), pickle_bytes)
        z.writestr(fixed_time(folder + "/version"), "3\n")


class OsSystem:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/quasr-pwned",))


class BuiltinsEval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('echo pwned > /tmp/quasr-pwned')",))


def make_state_dict():
    g = torch.Generator().manual_seed(1234)
    base = torch.randn(10, generator=g)
    grid = torch.randn(3, 5, generator=g)
    shared = torch.randn(2, 3, generator=g)
    sd = collections.OrderedDict()
    sd["linear.weight"] = torch.randn(3, 4, generator=g)
    sd["linear.bias"] = torch.randn(3, generator=g)
    sd["half.weight"] = torch.randn(2, 3, generator=g).half()
    sd["bf16.weight"] = torch.randn(4, generator=g).bfloat16()
    sd["double.value"] = torch.randn(2, generator=g).double()
    sd["ids"] = torch.tensor([0, -1, 2**40, -(2**62), 7], dtype=torch.int64)
    sd["int32.value"] = torch.tensor([-5, 100000], dtype=torch.int32)
    sd["int8.q"] = torch.tensor([-128, -1, 0, 127], dtype=torch.int8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["scalar"] = torch.tensor(3.5)
    sd["transposed"] = grid.t()                # non-contiguous [5, 3]
    sd["view_offset"] = base[4:9]              # storage offset 4
    sd["shared.full"] = shared                 # same storage as shared.row
    sd["shared.row"] = shared[1]               # offset 3
    sd["empty"] = torch.zeros(0, 4)
    sd._metadata = collections.OrderedDict([("", {"version": 1})])  # set on load via BUILD
    assert not sd["transposed"].is_contiguous()
    assert sd["view_offset"].storage_offset() == 4
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}

    sd = make_state_dict()
    torch.save(sd, path("state_dict.pt"))
    expected["state_dict.pt"] = {"names": list(sd.keys()),
                                 "tensors": {k: describe(v) for k, v in sd.items()}}

    torch.manual_seed(0)
    bn = torch.nn.BatchNorm1d(4)
    for _ in range(3):
        bn(torch.randn(8, 4) * 2 + 1)
    bn_sd = bn.state_dict()
    torch.save(bn_sd, path("batchnorm.pt"))
    expected["batchnorm.pt"] = {"names": list(bn_sd.keys()),
                                "tensors": {k: describe(v) for k, v in bn_sd.items()}}

    # A Parameter (pickled via _rebuild_parameter) in a zip whose folder is not the file stem.
    params = {"p": torch.nn.Parameter(torch.arange(6, dtype=torch.float32).reshape(2, 3))}
    torch.save(params, path("tmp_param.pt"))
    rezip(path("tmp_param.pt"), path("renamed_folder.pt"), "wav2vec2")
    os.remove(path("tmp_param.pt"))
    expected["renamed_folder.pt"] = {"names": ["p"], "tensors": {"p": describe(params["p"].detach())}}

    # A training checkpoint: tensors under "state_dict" next to non-tensor values.
    wrapped = {"epoch": 3, "state_dict": collections.OrderedDict(
        [("w", torch.tensor([1.5, -2.0])), ("sub.b", torch.tensor([4], dtype=torch.int64))]),
        "optimizer": "adam"}
    torch.save(wrapped, path("wrapped.pt"))
    expected["wrapped.pt"] = {"names": ["w", "sub.b"],
                              "tensors": {k: describe(v) for k, v in wrapped["state_dict"].items()}}

    torch_like_zip(path("malicious_os_system.pt"), pickle.dumps(OsSystem(), protocol=2))
    torch_like_zip(path("malicious_eval.pt"), pickle.dumps(BuiltinsEval(), protocol=4))
    expected["malicious_os_system.pt"] = {"global": "posix.system" if os.name == "posix" else "nt.system"}
    expected["malicious_eval.pt"] = {"global": "builtins.eval"}

    with open(path("state_dict.pt"), "rb") as f:
        whole = f.read()
    with open(path("truncated.pt"), "wb") as f:
        f.write(whole[: len(whole) // 2])

    torch.save({"w": torch.ones(2)}, path("legacy.pt"), _use_new_zipfile_serialization=False)

    # numpy-written arrays for the .npy reader.
    ref = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 11.5) / 3.0
    np.save(path("ref_f32.npy"), ref)
    np.save(path("ref_f64.npy"), np.array([0.1, -2.5, 1e-3], dtype=np.float64))
    np.save(path("ref_scalar.npy"), np.array(7.25, dtype=np.float32))
    np.save(path("ref_i32.npy"), np.arange(3, dtype=np.int32))
    np.save(path("ref_fortran.npy"), np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
    expected["ref_f32.npy"] = {"shape": list(ref.shape), "values": [float(v) for v in ref.reshape(-1)]}
    expected["ref_f64.npy"] = {"shape": [3], "values": [0.1, -2.5, 1e-3]}
    expected["ref_scalar.npy"] = {"shape": [], "values": [7.25]}

    write_reference_safetensors(expected)

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(path(n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


def write_reference_safetensors(expected):
    """A safetensors file laid out by hand from the format description (no quasr code)."""
    tensors = collections.OrderedDict()
    tensors["a.weight"] = torch.tensor([[1.0, -2.0], [0.5, 3.25]], dtype=torch.float32)
    tensors["b.ids"] = torch.tensor([1, -2, 3], dtype=torch.int64)
    tensors["c.bf16"] = torch.tensor([1.0, -0.5], dtype=torch.bfloat16)
    header, blobs, offset = {"__metadata__": {"format": "pt", "note": "hand-written"}}, [], 0
    for name, t in tensors.items():
        blob = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    text += b" " * ((-len(text) - 8) % 8)
    with open(path("reference.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    expected["reference.safetensors"] = {
        "names": list(tensors.keys()), "metadata": header["__metadata__"],
        "tensors": {k: describe(v) for k, v in tensors.items()}}


if __name__ == "__main__":
    main()
