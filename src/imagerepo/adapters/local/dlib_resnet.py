"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``) as an ONNX graph.

The ``dlib-bin`` wheel has no BLAS: its descriptor costs about 85 ms of CPU per face, where
onnxruntime runs the same network in a fraction of that. The weights are read from dlib's own file
at load time; the network (dlib's dnn_face_recognition_ex.cpp) is rebuilt here, and affine layers
are folded into the convolutions before them.

The file is dlib's ``serialize`` format: integers as a byte ``size | 0x80 if negative`` then
``size`` little-endian bytes; floats as a mantissa and a base-2 exponent, two such integers;
strings as a length and bytes; bools as ``'0'``/``'1'``; tensors (version 2) as a version, the
four dimensions and raw little-endian float32s. The network nests from the loss inward, so the
file holds every wrapper's version first, then the input layer, then each layer's parameters
from the input up, each followed by bookkeeping (three flags and three empty tensors; the first
also by its sample expansion factor).

dlib's details that matter (each checked against dlib by ``tests/unit/test_dlib_resnet.py``):
strided convolutions and pools do not pad; the input is ``(pixel - mean) / 256`` per channel;
where a residual's two branches differ in size, dlib adds them as if the smaller one were padded
with zeros at its end (channels, rows and columns); the output is the last layer's 128 values,
not normalized.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imagerepo.adapters.local.onnx_graph import GraphBuilder

CHIP_SIZE = 150


class DlibModelError(ValueError):
    """The file is not a dlib face recognition network this reader understands."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DlibModelError(f"the file ends early (at byte {self.pos})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def integer(self) -> int:
        head = self._take(1)[0]
        size = head & 0x0F
        if size > 8 or head & 0x70:
            raise DlibModelError(f"not an integer at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little") if size else 0
        return -value if head & 0x80 else value

    def real(self) -> float:
        mantissa, exponent = self.integer(), self.integer()
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError as e:
            raise DlibModelError(f"not a number at byte {self.pos}") from e

    def string(self) -> str:
        n = self.integer()
        if not 0 <= n <= 256:
            raise DlibModelError(f"not a string at byte {self.pos}")
        return self._take(n).decode("ascii", "replace")

    def flag(self) -> bool:
        b = self._take(1)
        if b not in (b"0", b"1"):
            raise DlibModelError(f"not a bool at byte {self.pos - 1}")
        return b == b"1"

    def tensor(self) -> npt.NDArray[np.float32]:
        if self.integer() != 2:
            raise DlibModelError(f"unknown tensor version at byte {self.pos}")
        dims = [self.integer() for _ in range(4)]
        count = int(np.prod(dims))
        if min(dims) < 0 or count > 50_000_000:
            raise DlibModelError(f"implausible tensor {dims} at byte {self.pos}")
        return np.frombuffer(self._take(4 * count), dtype="<f4").reshape(dims)  # a view: no copy

    def alias(self) -> tuple[int, int, int, int]:
        if self.integer() != 1:
            raise DlibModelError(f"unknown alias tensor version at byte {self.pos}")
        n, k, nr, nc = (self.integer() for _ in range(4))
        return n, k, nr, nc


@dataclass
class Layer:
    kind: str  # con, affine, relu, max_pool, avg_pool, add_prev, fc
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class DlibNet:
    mean_rgb: tuple[float, float, float]
    layers: list[Layer]


def _layer(r: _Reader) -> Layer:
    name = r.string()
    if name in ("con_4", "con_5"):
        params = r.tensor().ravel()
        filters, nr, nc, sy, sx, py, px = (r.integer() for _ in range(7))
        wshape, bshape = r.alias(), r.alias()
        for _ in range(4):  # learning rate and weight decay multipliers
            r.real()
        use_bias = r.flag() if name == "con_5" else True
        count, biases = int(np.prod(wshape)), (filters if use_bias else 0)
        bad_bias = use_bias and int(np.prod(bshape)) != filters
        if wshape[0] != filters or wshape[2:] != (nr, nc) or bad_bias or params.size != count + biases:
            raise DlibModelError(f"convolution of {filters} filters with {params.size} parameters")
        weights = params[:count].reshape(wshape)
        bias = params[count:count + filters] if use_bias else np.zeros(filters, np.float32)
        return Layer("con", {"w": weights, "b": bias, "stride": (sy, sx), "pad": (py, px)})
    if name == "affine_":
        params = r.tensor().ravel()
        g, b = r.alias(), r.alias()
        mode = r.integer()
        k = int(np.prod(g))
        if mode != 0 or params.size != 2 * k or int(np.prod(b)) != k:
            raise DlibModelError("only per-channel affine layers are supported")
        return Layer("affine", {"gamma": params[:k], "beta": params[k:]})
    if name == "relu_":
        return Layer("relu")
    if name == "add_prev_":
        return Layer("add_prev")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, sy, sx, py, px = (r.integer() for _ in range(6))
        return Layer(name[:8], {"window": (nr, nc), "stride": (sy, sx), "pad": (py, px)})
    if name == "fc_2":
        outputs, inputs = r.integer(), r.integer()
        params = r.tensor().ravel()
        wshape, bshape = r.alias(), r.alias()
        bias_mode = r.integer()
        for _ in range(4):
            r.real()
        if bias_mode != 1 or any(bshape) or wshape[:2] != (inputs, outputs) or params.size != inputs * outputs:
            raise DlibModelError("the last layer is not a fully connected layer without bias")
        return Layer("fc", {"w": params.reshape(inputs, outputs)})
    raise DlibModelError(f"unknown layer {name!r}")


def parse(data: bytes) -> DlibNet:
    """The layers of dlib's face recognition network, from its serialized file."""
    r = _Reader(data)
    if r.integer() != 1 or not r.string().startswith("loss_metric"):
        raise DlibModelError("not a dlib metric-learning network")
    r.real(), r.real()  # margin and distance threshold: training only
    while (version := r.integer()) in (1, 2):  # the wrappers' versions, outermost first
        pass
    if version != 3 or r.string() != "input_rgb_image_sized":
        raise DlibModelError("the network does not take an RGB image")
    mean = (r.real(), r.real(), r.real())
    if (r.integer(), r.integer()) != (CHIP_SIZE, CHIP_SIZE):
        raise DlibModelError(f"the network does not take {CHIP_SIZE}×{CHIP_SIZE} chips")
    layers: list[Layer] = []
    while r.pos < len(r.data):
        layers.append(_layer(r))
        for _ in range(3):
            r.flag()
        for _ in range(3):
            if r.tensor().size:
                raise DlibModelError("unexpected state saved with a layer")
        if len(layers) == 1 and r.integer() != 1:  # the layer on the input saves its sample expansion
            raise DlibModelError("one image must make one sample")
    return DlibNet(mean, layers)


def _out(size: int, window: int, stride: int, pad: int) -> int:
    return 1 + (size + 2 * pad - window) // stride


def build_model(net: DlibNet) -> bytes:
    """Serialized ONNX model: input ``chip`` uint8 (1, 150, 150, 3) RGB, a face chip as
    ``dlib.get_face_chip`` cuts it; output ``descriptor`` (1, 128)."""
    from onnx import TensorProto, helper

    g = GraphBuilder()
    nodes, fresh, const = g.nodes, g.fresh, g.const

    def node(op: str, inputs: list[str], **attrs: Any) -> str:
        y = fresh(op.lower())
        nodes.append(helper.make_node(op, inputs, [y], **attrs))
        return y

    def pad_to(x: str, have: tuple[int, int, int], want: tuple[int, int, int]) -> str:
        if have == want:
            return x
        extra = [0, 0, 0, 0, 0, *(w - h for w, h in zip(want, have, strict=True))]
        return node("Pad", [x, const(np.array(extra, np.int64), "pads")])

    nodes.append(helper.make_node("Cast", ["chip"], ["chip_f"], to=TensorProto.FLOAT))
    nodes.append(helper.make_node("Transpose", ["chip_f"], ["chip_t"], perm=[0, 3, 1, 2]))
    mean = const(np.array(net.mean_rgb, np.float32).reshape(1, 3, 1, 1), "mean")
    x = node("Mul", [node("Sub", ["chip_t", mean]), const(np.array(1 / 256, np.float32), "scale")])
    shape = (3, CHIP_SIZE, CHIP_SIZE)

    layers = net.layers
    i = 0
    block_in: tuple[str, tuple[int, int, int]] | None = None  # a residual block's input
    pooled: tuple[str, tuple[int, int, int]] | None = None  # ... downsampled for the shortcut
    convs_in_block = 0
    while i < len(layers):
        layer = layers[i]
        p = layer.params
        if layer.kind == "con":
            if convs_in_block == 0:
                block_in, pooled = (x, shape), None
            convs_in_block += 1
            w, b = p["w"], p["b"]
            if i + 1 < len(layers) and layers[i + 1].kind == "affine":
                gamma, beta = layers[i + 1].params["gamma"], layers[i + 1].params["beta"]
                w, b = w * gamma[:, None, None, None], b * gamma + beta
                i += 1
            if w.shape[1] != shape[0]:
                raise DlibModelError(f"a convolution takes {w.shape[1]} channels, gets {shape[0]}")
            (sy, sx), (py, px) = p["stride"], p["pad"]
            x = node("Conv", [x, const(w, "W"), const(b, "B")], kernel_shape=list(w.shape[2:]),
                     strides=[sy, sx], pads=[py, px, py, px])
            shape = (w.shape[0], _out(shape[1], w.shape[2], sy, py), _out(shape[2], w.shape[3], sx, px))
        elif layer.kind == "relu":
            x = node("Relu", [x])
        elif layer.kind in ("max_pool", "avg_pool"):
            (wy, wx), (sy, sx), (py, px) = p["window"], p["stride"], p["pad"]
            if wy == 0 and wx == 0:  # avg_pool_everything
                x = node("Flatten", [node("GlobalAveragePool", [x])])
                shape = (shape[0], 1, 1)
            elif layer.kind == "avg_pool":  # a downsampling block's shortcut, from the block's input
                if block_in is None or convs_in_block != 2 or (py, px) != (0, 0):
                    raise DlibModelError("an average pool outside a residual block")
                src, src_shape = block_in
                y = node("AveragePool", [src], kernel_shape=[wy, wx], strides=[sy, sx])
                pooled = (y, (src_shape[0], _out(src_shape[1], wy, sy, 0), _out(src_shape[2], wx, sx, 0)))
            else:
                x = node("MaxPool", [x], kernel_shape=[wy, wx], strides=[sy, sx], pads=[py, px, py, px])
                shape = (shape[0], _out(shape[1], wy, sy, py), _out(shape[2], wx, sx, px))
                block_in, convs_in_block = None, 0  # the stem ends here
        elif layer.kind == "add_prev":
            if block_in is None or convs_in_block != 2:
                raise DlibModelError("a residual addition outside a residual block")
            other, other_shape = pooled or block_in
            both = tuple(max(a, c) for a, c in zip(shape, other_shape, strict=True))
            x = node("Add", [pad_to(x, shape, both), pad_to(other, other_shape, both)])  # type: ignore[arg-type]
            shape = both  # type: ignore[assignment]
            block_in, pooled, convs_in_block = None, None, 0
        elif layer.kind == "fc":
            if shape[1:] != (1, 1) or p["w"].shape[0] != shape[0]:
                raise DlibModelError("the last layer does not follow a global pool")
            x = node("MatMul", [x, const(p["w"], "fcW")])
        else:
            raise DlibModelError(f"an affine layer that follows no convolution (layer {i})")
        i += 1
    if layers[-1].kind != "fc":
        raise DlibModelError("the network does not end in its descriptor layer")
    nodes.append(helper.make_node("Identity", [x], ["descriptor"]))
    return g.model(
        "dlib_face_recognition_resnet_v1",
        [helper.make_tensor_value_info("chip", TensorProto.UINT8, [1, CHIP_SIZE, CHIP_SIZE, 3])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, int(layers[-1].params["w"].shape[1])])],
    )


class FaceDescriptor:
    """dlib's face descriptor under onnxruntime, one thread (the analysis children already run one
    per core); ``describe`` takes a 150×150 RGB chip from ``dlib.get_face_chip``."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        model = build_model(parse(path.read_bytes()))  # the file's bytes are freed with the layers
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        del model
        _give_back_freed_heap()

    def describe(self, chip: npt.NDArray[np.uint8]) -> list[float]:
        if chip.shape != (CHIP_SIZE, CHIP_SIZE, 3):
            raise ValueError(f"a face chip is {CHIP_SIZE}×{CHIP_SIZE} RGB, not {chip.shape}")
        (out,) = self.session.run(["descriptor"], {"chip": np.ascontiguousarray(chip, dtype=np.uint8)[None]})
        return [float(v) for v in out[0]]


def _give_back_freed_heap() -> None:
    """Building the graph frees about 45 MB of small allocations that glibc would keep in the
    process (its RSS) for good: return them to the system. Nothing on other C libraries."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
