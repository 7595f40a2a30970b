"""``model.onnx``: an ONNX graph, counted node by node without torch (:mod:`flopwise.onnx`).

Inputs are given as ``NAME=SHAPE`` (a graph input's concrete shape) or ``DIM=N`` (a symbolic
dimension's size), the CLI's ``--input`` form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flopwise.report import Report

__all__ = ["count"]


def count(path: str, shapes: Sequence[str], convention: str, strict: bool) -> Report:
    """The report of one run of the graph at ``path``, with ``shapes`` as the CLI gives them."""
    from flopwise.onnx import parse_input_shapes, profile_onnx

    return profile_onnx(path, parse_input_shapes(shapes), convention=convention, strict=strict)
