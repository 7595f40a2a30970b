"""The ``onnx`` report section: what the graph a report was counted from looked like.

>>> info = OnnxInfo(ir_version=8, opsets={"ai.onnx": 17}, producer="pytorch 2.5",
...                 inputs={"x": (2, 3)}, nodes=4, unsized_values=0, shape_values_folded=1,
...                 onnx_version="1.17.0")
>>> OnnxInfo.from_dict(info.to_dict()) == info, info.to_dict()["inputs"]
(True, {'x': [2, 3]})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["OnnxInfo"]


@dataclass(frozen=True)
class OnnxInfo:
    """The graph's IR version, opsets, producer, input shapes, node count, and how many values
    had no shape (``unsized_values``) or were shape arithmetic folded to constants."""

    KEY: ClassVar[str] = "onnx"

    ir_version: int
    opsets: Mapping[str, int] = field(default_factory=dict)
    producer: str = ""
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    nodes: int = 0
    unsized_values: int = 0
    shape_values_folded: int = 0
    onnx_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ir_version": self.ir_version, "opsets": dict(self.opsets),
            "producer": self.producer,
            "inputs": {name: list(shape) for name, shape in self.inputs.items()},
            "nodes": self.nodes, "unsized_values": self.unsized_values,
            "shape_values_folded": self.shape_values_folded, "onnx_version": self.onnx_version,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OnnxInfo:
        return cls(
            ir_version=data["ir_version"], opsets=dict(data.get("opsets", {})),
            producer=data.get("producer", ""),
            inputs={name: tuple(shape) for name, shape in data.get("inputs", {}).items()},
            nodes=data.get("nodes", 0), unsized_values=data.get("unsized_values", 0),
            shape_values_folded=data.get("shape_values_folded", 0),
            onnx_version=data.get("onnx_version", ""),
        )
