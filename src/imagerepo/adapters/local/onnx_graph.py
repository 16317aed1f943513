"""A small ONNX graph builder shared by the networks rebuilt from raw weights (EfficientNet from
its .pth, dlib's face ResNet from its .dat): fresh names, weights as initializers, the model bytes."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class GraphBuilder:
    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self._count = 0

    def fresh(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, arr: npt.NDArray[Any], prefix: str) -> str:
        """A weight as an initializer; returns its name."""
        from onnx import numpy_helper

        name = self.fresh(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def model(self, name: str, inputs: list[Any], outputs: list[Any]) -> bytes:
        """The serialized model (opset 13, IR 8: what the pinned onnxruntime reads)."""
        from onnx import helper

        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="imagerepo")
        model.ir_version = 8
        return bytes(model.SerializeToString())
