"""ONNX models: static counts from the graph, the same :class:`~flopwise.Report` as PyTorch.

>>> from flopwise.onnx import parse_input_shapes
>>> parse_input_shapes(["x=8,3,224,224"])
{'x': (8, 3, 224, 224)}

- :func:`profile_onnx` counts a model file or ``ModelProto`` (needs ``onnx`` only);
- :func:`parse_input_shapes` reads the CLI's ``--input NAME=SHAPE`` values;
- :func:`measure_latency` times it with onnxruntime (``pip install 'flopwise[onnx]'``);
- :func:`onnx_registry` copies the ONNX formula table, to add formulas for custom ops.
"""

from __future__ import annotations

from flopwise.onnx.formulas import onnx_registry
from flopwise.onnx.graph import parse_input_shapes
from flopwise.onnx.node import OnnxNode
from flopwise.onnx.profile import profile_onnx
from flopwise.onnx.runtime import Latency, measure_latency

__all__ = ["profile_onnx", "parse_input_shapes", "measure_latency", "Latency", "onnx_registry",
           "OnnxNode"]
