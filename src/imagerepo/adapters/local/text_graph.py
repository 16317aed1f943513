"""PP-OCRv4's text detector with its elementwise tail folded away: the same function, less work.

The detector (PP-LCNetV3 backbone, exported from Paddle) follows each convolution with a learnable
scalar affine (``x * a + b``) and each hard-swish is spelled as four operators (``x * clip(x + 3,
0, 6) / 6``), then another scalar affine. onnxruntime runs each as its own pass over the feature
map, and each breaks its blocked (NCHWc) convolution layout: 40% of the detector's time on
bench_analysis' photos went to Add, Mul, Clip, Div and the layout reorders between them.

Rewritten here, exactly up to float rounding:
- a scalar affine right after a convolution goes into that convolution's weights and bias;
- the four hard-swish operators become two, ``x * HardSigmoid(x)``;
- a scalar affine whose only reader is a 1×1 convolution without padding goes into that one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def simplify(model_bytes: bytes) -> bytes:
    """The detector's serialized model, rewritten (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    consts: dict[str, npt.NDArray[Any]] = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.op_type == "Constant" and len(node.attribute) == 1 and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        else:
            nodes.append(node)
    graph_outputs = {o.name for o in graph.output}

    def readers(name: str) -> list[Any]:
        return [n for n in nodes if name in n.input]

    def only_reader(name: str) -> Any | None:
        found = readers(name)
        return found[0] if len(found) == 1 and name not in graph_outputs else None

    def scalar(node: Any) -> tuple[str, float] | None:
        """(the other input, the value) when ``node`` combines a tensor with a one-element constant."""
        if len(node.input) != 2:
            return None
        a, b = node.input
        if b in consts and consts[b].size == 1:
            return a, float(consts[b].reshape(()))
        if a in consts and consts[a].size == 1:
            return b, float(consts[a].reshape(()))
        return None

    def one(name: str) -> float | None:
        """The value of a one-element constant, else None."""
        value = consts.get(name)
        return float(value.reshape(())) if value is not None and value.size == 1 else None

    def attr(node: Any, name: str, default: Any) -> Any:
        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def constant_weights(conv: Any) -> bool:
        return len(conv.input) >= 2 and all(name in consts for name in conv.input[1:])

    def conv_weights(conv: Any) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        w = np.asarray(consts[conv.input[1]], dtype=np.float32)
        b = (
            np.asarray(consts[conv.input[2]], dtype=np.float32)
            if len(conv.input) > 2
            else np.zeros(w.shape[0], np.float32)
        )
        return w, b

    def set_conv(conv: Any, w: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> None:
        wname, bname = f"{conv.output[0]}_folded_w", f"{conv.output[0]}_folded_b"
        consts[wname], consts[bname] = w.astype(np.float32), b.astype(np.float32)
        del conv.input[1:]
        conv.input.extend([wname, bname])

    def affine_after(name: str) -> tuple[Any, Any, float, float] | None:
        """The Mul-by-scalar then Add-scalar that alone read ``name``: (mul, add, a, b)."""
        mul = only_reader(name)
        if mul is None or mul.op_type != "Mul" or (ma := scalar(mul)) is None or ma[0] != name:
            return None
        add = only_reader(mul.output[0])
        if add is None or add.op_type != "Add" or (ab := scalar(add)) is None or ab[0] != mul.output[0]:
            return None
        return mul, add, ma[1], ab[1]

    def rename_input(old: str, new: str) -> None:
        for n in nodes:
            for i, name in enumerate(n.input):
                if name == old:
                    n.input[i] = new

    # 1. Conv -> x*a + b: into the convolution. (Each step keeps its own set of removed nodes: the
    # list holds them alive within a step, so their ids are unique there and not after.)
    removed: set[int] = set()
    for conv in list(nodes):
        if conv.op_type != "Conv" or not constant_weights(conv):
            continue
        if (found := affine_after(conv.output[0])) is None or found[1].output[0] in graph_outputs:
            continue
        mul, add, a, b = found
        w, bias = conv_weights(conv)
        set_conv(conv, w * np.float32(a), bias * np.float32(a) + np.float32(b))
        rename_input(add.output[0], conv.output[0])
        removed.update({id(mul), id(add)})
    nodes = [n for n in nodes if id(n) not in removed]

    removed = set()
    # 2. x * clip(x + 3, 0, 6) / 6 -> x * HardSigmoid(x).
    for plus in list(nodes):
        if plus.op_type != "Add" or (p := scalar(plus)) is None or p[1] != 3.0:
            continue
        x = p[0]
        clip = only_reader(plus.output[0])
        if clip is None or clip.op_type != "Clip" or len(clip.input) != 3:
            continue
        if one(clip.input[1]) != 0.0 or one(clip.input[2]) != 6.0:
            continue
        mul = only_reader(clip.output[0])
        if mul is None or mul.op_type != "Mul" or set(mul.input) != {x, clip.output[0]}:
            continue
        div = only_reader(mul.output[0])
        if div is None or div.op_type != "Div" or div.input[0] != mul.output[0] or one(div.input[1]) != 6.0:
            continue
        # HardSigmoid(x) = clip(x/6 + 1/2, 0, 1): an operator since opset 6, so the model keeps its opset.
        gate = helper.make_node("HardSigmoid", [x], [clip.output[0]], alpha=1 / 6, beta=0.5)
        nodes[next(i for i, n in enumerate(nodes) if n is plus)] = gate
        del mul.output[:]
        mul.output.append(div.output[0])
        removed.update({id(clip), id(div)})
    nodes = [n for n in nodes if id(n) not in removed]

    removed = set()
    # 3. x*a + b read only by a 1×1 convolution without padding: into that convolution.
    for mul in list(nodes):
        if mul.op_type != "Mul" or (ma := scalar(mul)) is None:
            continue
        found = affine_after(ma[0])
        if found is None or found[0] is not mul:
            continue
        _, add, a, b = found
        conv = only_reader(add.output[0])
        if conv is None or conv.op_type != "Conv" or conv.input[0] != add.output[0] or not constant_weights(conv):
            continue
        w, bias = conv_weights(conv)
        if w.shape[2:] != (1, 1) or attr(conv, "group", 1) != 1 or any(attr(conv, "pads", [0])):
            continue
        if attr(conv, "auto_pad", b"NOTSET") not in (b"NOTSET", b"VALID"):
            continue
        set_conv(conv, w * np.float32(a), bias + np.float32(b) * w.sum(axis=(1, 2, 3)))
        conv.input[0] = ma[0]
        removed.update({id(mul), id(add)})
    nodes = [n for n in nodes if id(n) not in removed]

    used = {name for n in nodes for name in n.input}
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items() if k in used)
    return bytes(model.SerializeToString())
