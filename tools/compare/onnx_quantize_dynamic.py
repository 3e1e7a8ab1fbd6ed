#!/usr/bin/python3
"""Dynamic int8 quantization of an ONNX model's constant-weight MatMul / Gemm, in the operator
pattern onnxruntime.quantization.quantize_dynamic writes (QOperator format, IntegerOps mode).
Needs only the `onnx` package (Debian python3-onnx): ONNX Runtime's Python package is not
installable here.

    /usr/bin/python3 tools/compare/onnx_quantize_dynamic.py IN.onnx OUT.onnx [--per-column]

Every MatMul whose B is a constant 2-D tensor W [K, N] (an initializer, possibly behind an
Identity, or a Constant node) becomes

    x --DynamicQuantizeLinear--> (x_q u8, x_scale, x_zp)            one per activation tensor,
    MatMulInteger(x_q, W_q s8, x_zp, W_zp) -> int32                  shared by all its MatMuls
    Cast(int32 -> float)
    Mul(x_scale, W_scale) -> s ;  Mul(cast, s) -> the MatMul's original output

which is what quantize_dynamic emits for MatMul (operators/matmul.py, class MatMulInteger) with
its defaults: activations u8 asymmetric (DynamicQuantizeLinear computes scale and zero point per
run, per tensor), weights s8 symmetric -- scale = max|W| / 127, zero point 0, values in
[-127, 127], round half to even -- per tensor. ONNX Runtime's graph optimizer then fuses
MatMulInteger + Cast + Mul + Mul (+ the bias Add) into its MatMulIntegerToFloat kernel, and,
when the DynamicQuantizeLinear feeds a single MatMul, the pair into DynamicQuantizeMatMul.

--per-column: one scale per output column (W_scale [N], W_zp [N] zeros). MatMulInteger's
b_zero_point takes an N-vector for a 2-D B, the scale product broadcasts over the last axis,
and ORT's fused kernels document per-column b_scale / b_zero_point, so this is a clean variant;
quantize_dynamic's per_channel=True option is the counterpart.

Gemm (not quantized by quantize_dynamic; torch exports Linear on 3-D input as MatMul + Add, so
the wav2vec2 graph has none) is handled when it is a plain x @ W (+ C): transA 0, alpha 1.

Difference from quantize_dynamic, on purpose: Conv stays fp32 (its default op list also turns
Conv into ConvInteger), i.e. this is quantize_dynamic(op_types_to_quantize=["MatMul"]).
Gather / Attention / LSTM, the other ops it knows: none in this graph. The bias Add is left as
exported (torch writes Add(bias, y)); ORT's optimizer still folds it into MatMulIntegerToFloat /
DynamicQuantizeMatMul (checked on wav2vec2-base: all 77 MatMuls fused, bias included).
Everything else (LayerNorm, softmax, attention's activation-activation MatMuls, the convs)
stays fp32.
"""

import argparse
import os
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_value(name, inits, producers):
    """The numpy value of tensor `name` when it is constant (initializer, Identity of one, or a
    Constant node with a `value` tensor), else None."""
    if name in inits:
        return numpy_helper.to_array(inits[name])
    node = producers.get(name)
    if node is None:
        return None
    if node.op_type == "Identity":
        return constant_value(node.input[0], inits, producers)
    if node.op_type == "Constant":
        for a in node.attribute:
            if a.name == "value":
                return numpy_helper.to_array(a.t)
    return None


def quantize_weight(w, per_column):
    """Symmetric s8: scale = max|w| / 127 (per tensor, or per column of [K, N]), zero point 0."""
    absmax = np.abs(w).max(axis=0) if per_column else np.abs(w).max()
    scale = np.where(absmax > 0, absmax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale, np.zeros(scale.shape, np.int8)


class Rewriter:
    """Builds the new node list; keeps one DynamicQuantizeLinear per activation tensor and one
    quantized copy per weight tensor (both are shared, as in ONNX Runtime's quantizer)."""

    def __init__(self, graph, per_column):
        self.graph = graph
        self.per_column = per_column
        self.inits = {t.name: t for t in graph.initializer}
        self.producers = {o: n for n in graph.node for o in n.output}
        self.new_inits = []
        self.dql = {}       # activation name -> (q, scale, zp)
        self.weights = {}   # weight name -> (q, scale, zp) initializer names
        self.count = {"MatMul": 0, "Gemm": 0, "skipped": 0}

    def weight(self, name, w):
        if name not in self.weights:
            q, s, z = quantize_weight(w, self.per_column)
            base = name.replace(":", "_")
            names = (base + "_quantized", base + "_scale", base + "_zero_point")
            for n, v in zip(names, (q, s, z)):
                self.new_inits.append(numpy_helper.from_array(v, n))
            self.weights[name] = names
        return self.weights[name]

    def activation(self, x, out):
        if x not in self.dql:
            names = (x + "_quantized", x + "_scale", x + "_zero_point")
            out.append(helper.make_node("DynamicQuantizeLinear", [x], list(names),
                                        x + "_QuantizeLinear"))
            self.dql[x] = names
        return self.dql[x]

    def integer_matmul(self, x, wname, w, y, tag, out):
        """Appends the DynamicQuantizeLinear (first use of x) + MatMulInteger + Cast + Mul + Mul
        chain computing y = x @ w."""
        xq, xs, xz = self.activation(x, out)
        wq, ws, wz = self.weight(wname, w)
        acc, accf, scales = tag + "_int32", tag + "_int32_float", tag + "_scales"
        out.append(helper.make_node("MatMulInteger", [xq, wq, xz, wz], [acc], tag + "_quant"))
        out.append(helper.make_node("Cast", [acc], [accf], tag + "_cast", to=TensorProto.FLOAT))
        # x_scale first: ORT's fusion reads the scale Mul's inputs as (A_scale, B_scale).
        out.append(helper.make_node("Mul", [xs, ws], [scales], tag + "_scales_mul"))
        out.append(helper.make_node("Mul", [accf, scales], [y], tag + "_output_scale_mul"))

    def matmul(self, node, out):
        w = constant_value(node.input[1], self.inits, self.producers)
        if w is None or w.ndim != 2 or w.dtype != np.float32:
            self.count["skipped"] += 1  # activation x activation (attention): stays fp32
            out.append(node)
            return
        self.integer_matmul(node.input[0], node.input[1], w, node.output[0],
                            node.name or node.output[0], out)
        self.count["MatMul"] += 1

    def gemm(self, node, out):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        w = constant_value(node.input[1], self.inits, self.producers)
        if (w is None or w.ndim != 2 or attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                or w.dtype != np.float32):
            self.count["skipped"] += 1
            out.append(node)
            return
        if attrs.get("transB", 0):
            w = np.ascontiguousarray(w.T)
        tag = node.name or node.output[0]
        wname = node.input[1] + ("_T" if attrs.get("transB", 0) else "")
        has_c = len(node.input) > 2 and node.input[2]
        y = tag + "_matmul" if has_c else node.output[0]
        self.integer_matmul(node.input[0], wname, w, y, tag, out)
        if has_c:
            c = node.input[2]
            beta = attrs.get("beta", 1.0)
            if beta != 1.0:
                cv = constant_value(c, self.inits, self.producers)
                c = tag + "_C_scaled"
                self.new_inits.append(numpy_helper.from_array((cv * beta).astype(np.float32), c))
            out.append(helper.make_node("Add", [y, c], [node.output[0]], tag + "_bias_add"))
        self.count["Gemm"] += 1


def drop_dead(graph):
    """Remove the fp32 weights (and Identity / Constant nodes feeding only them) that nothing
    reads any more; repeated until stable because removing a node can orphan its input."""
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if n.op_type in ("Identity", "Constant")
                and not any(o in used for o in n.output)]
        for n in dead:
            graph.node.remove(n)
        if not dead:
            break
    used = {i for n in graph.node for i in n.input} | outputs
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def quantize(model, per_column=False):
    graph = model.graph
    rw = Rewriter(graph, per_column)
    out = []
    for node in graph.node:
        if node.op_type == "MatMul":
            rw.matmul(node, out)
        elif node.op_type == "Gemm":
            rw.gemm(node, out)
        else:
            out.append(node)
    del graph.node[:]
    graph.node.extend(out)
    graph.initializer.extend(rw.new_inits)
    drop_dead(graph)
    # MatMulInteger / DynamicQuantizeLinear are opset 10 / 11 ops: any opset >= 11 has them.
    if max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) < 11:
        raise ValueError("opset below 11: DynamicQuantizeLinear needs 11")
    return dict(rw.count, activations_quantized=len(rw.dql))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--per-column", action="store_true",
                    help="one weight scale per output column instead of one per tensor")
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = onnx.load(args.input)
    stats = quantize(model, args.per_column)
    onnx.checker.check_model(model)
    tmp = args.output + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, args.output)  # a half-written file must not look like a finished model
    print("onnx_quantize_dynamic: %s -> %s (%.0f -> %.0f MiB, %s weights) in %.1f s: %s" % (
        os.path.basename(args.input), args.output, os.path.getsize(args.input) / 2**20,
        os.path.getsize(args.output) / 2**20, "per-column" if args.per_column else "per-tensor",
        time.perf_counter() - t0, ", ".join("%s %d" % kv for kv in stats.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
