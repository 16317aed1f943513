"""EfficientNet-Lite0 as an ONNX graph built from the PyTorch weights, run by onnxruntime.

The network (Tan & Le 2019, "lite" variant: ReLU6, no squeeze-excitation, fixed stem and head)
is small enough to write down: batch norms are folded into the convolutions, TensorFlow "same"
padding becomes explicit pads. Preprocessing (uint8 HWC -> normalized CHW) is part of the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from imagerepo.adapters.local.onnx_graph import GraphBuilder
from imagerepo.adapters.local.torch_weights import WeightsError

INPUT_SIZE = 224
_BN_EPS = 1e-3
# Stages of EfficientNet-B0/Lite0: (repeats, kernel, first stride); channels come from the weights.
_STAGES = ((1, 3, 1), (2, 3, 2), (2, 5, 2), (3, 3, 2), (3, 5, 1), (4, 5, 2), (1, 3, 1))
# The TF-Lite models take (x - 127) / 128.
_MEAN, _STD = 127.0, 128.0


def _same_pads(kernel: int, stride: int, size: int) -> list[int]:
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    return [before, before, total - before, total - before]


def build_model(weights: dict[str, npt.NDArray[Any]]) -> bytes:
    """Serialized ONNX model: input ``image`` uint8 (1, 224, 224, 3) RGB, outputs ``probs`` (1, 1000)
    and ``features`` (1, 1280), the pooled features the last layer reads."""
    from onnx import TensorProto, helper

    g = GraphBuilder()
    nodes, fresh, const = g.nodes, g.fresh, g.const

    def w(name: str) -> npt.NDArray[np.float32]:
        try:
            return np.asarray(weights[name], dtype=np.float32)
        except KeyError as e:
            raise WeightsError(f"weights file lacks {name}") from e

    def conv_bn(x: str, conv: str, bn: str, *, stride: int, size: int, groups: int = 1, relu: bool) -> str:
        kernel = w(f"{conv}.weight")
        scale = w(f"{bn}.weight") / np.sqrt(w(f"{bn}.running_var") + _BN_EPS)
        folded = kernel * scale[:, None, None, None]
        bias = w(f"{bn}.bias") - w(f"{bn}.running_mean") * scale
        k = int(kernel.shape[-1])
        y = fresh("conv")
        nodes.append(
            helper.make_node(
                "Conv",
                [x, const(folded, "W"), const(bias, "B")],
                [y],
                kernel_shape=[k, k],
                strides=[stride, stride],
                pads=_same_pads(k, stride, size),
                group=groups,
            )
        )
        if not relu:
            return y
        z = fresh("relu6")
        nodes.append(helper.make_node("Clip", [y, lo, hi], [z]))
        return z

    lo = const(np.array(0.0, np.float32), "zero")
    hi = const(np.array(6.0, np.float32), "six")

    # uint8 NHWC -> normalized float NCHW
    nodes.append(helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("Transpose", ["image_f"], ["image_t"], perm=[0, 3, 1, 2]))
    nodes.append(helper.make_node("Sub", ["image_t", const(np.array(_MEAN, np.float32), "mean")], ["image_c"]))
    nodes.append(helper.make_node("Mul", ["image_c", const(np.array(1 / _STD, np.float32), "istd")], ["x0"]))

    size = INPUT_SIZE
    x = conv_bn("x0", "_conv_stem", "_bn0", stride=2, size=size, relu=True)
    size = -(-size // 2)
    index = 0
    for repeats, kernel, first_stride in _STAGES:
        for r in range(repeats):
            stride = first_stride if r == 0 else 1
            p = f"_blocks.{index}"
            inp = x
            if f"{p}._expand_conv.weight" in weights:
                x = conv_bn(x, f"{p}._expand_conv", f"{p}._bn0", stride=1, size=size, relu=True)
            dw = w(f"{p}._depthwise_conv.weight")
            if dw.shape[-1] != kernel:
                raise WeightsError(f"block {index}: kernel {dw.shape[-1]}, expected {kernel}")
            x = conv_bn(
                x,
                f"{p}._depthwise_conv",
                f"{p}._bn1",
                stride=stride,
                size=size,
                groups=dw.shape[0],
                relu=True,
            )
            size = -(-size // stride)
            x = conv_bn(x, f"{p}._project_conv", f"{p}._bn2", stride=1, size=size, relu=False)
            in_ch = w(f"{p}._expand_conv.weight").shape[1] if f"{p}._expand_conv.weight" in weights else dw.shape[0]
            if stride == 1 and in_ch == w(f"{p}._project_conv.weight").shape[0]:
                y = fresh("add")
                nodes.append(helper.make_node("Add", [x, inp], [y]))
                x = y
            index += 1
    x = conv_bn(x, "_conv_head", "_bn1", stride=1, size=size, relu=True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"]))
    nodes.append(
        helper.make_node(
            "Gemm",
            ["features", const(w("_fc.weight"), "fcW"), const(w("_fc.bias"), "fcB")],
            ["logits"],
            transB=1,
        )
    )
    nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], axis=1))
    return g.model(
        "efficientnet_lite0",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [1, INPUT_SIZE, INPUT_SIZE, 3])],
        [
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, int(w("_fc.bias").shape[0])]),
            # The pooled features before the last layer: the image's content embedding (similarity).
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, int(w("_fc.weight").shape[1])]),
        ],
    )
