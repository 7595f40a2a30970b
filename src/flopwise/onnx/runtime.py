"""Measured latency of an ONNX model with onnxruntime (the optional ``flopwise[onnx]`` extra).

Counting never needs a runtime; this module is only for ``--time``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flopwise.errors import MissingExtraError, ModelLoadError, UsageError
from flopwise.onnx.graph import DTYPES, bind_input_shapes, graph_inputs, load_model

if TYPE_CHECKING:
    import onnx

__all__ = ["Latency", "measure_latency"]


@dataclass(frozen=True)
class Latency:
    """Wall-clock seconds of each timed run (after warm-up), and where they ran."""

    times_s: tuple[float, ...]
    provider: str
    warmup: int

    @property
    def median_s(self) -> float:
        return statistics.median(self.times_s)

    @property
    def mean_s(self) -> float:
        return statistics.fmean(self.times_s)

    @property
    def min_s(self) -> float:
        return min(self.times_s)

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": self.median_s, "mean_s": self.mean_s, "min_s": self.min_s,
                "repeats": len(self.times_s), "warmup": self.warmup, "provider": self.provider}


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise MissingExtraError("onnxruntime", "onnx", "timing ONNX models (--time)") from error
    return onnxruntime


def measure_latency(
    model: str | os.PathLike[str] | onnx.ModelProto,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    repeats: int = 10,
    *,
    warmup: int = 2,
    provider: str = "CPUExecutionProvider",
) -> Latency:
    """Run the model ``warmup + repeats`` times on random inputs with onnxruntime.

    Input shapes are resolved exactly as :func:`flopwise.onnx.profile_onnx` resolves them.

    Raises:
        MissingExtraError: onnxruntime is not installed (``pip install 'flopwise[onnx]'``).
        UsageError: ``repeats`` < 1, or an input shape is unresolved.
        ModelLoadError: onnxruntime cannot load the model (e.g. an IR version newer than the
            installed onnxruntime reads).
    """
    runtime = _onnxruntime()
    if repeats < 1 or warmup < 0:
        raise UsageError(f"repeats must be ≥ 1 and warmup ≥ 0, got {repeats} and {warmup}; "
                         "pass a positive --repeats")
    import numpy as np

    loaded = load_model(model)
    shapes = bind_input_shapes(loaded.model, input_shapes)
    types = {value.name: value.type.tensor_type.elem_type
             for value in graph_inputs(loaded.model.graph)}
    generator = np.random.default_rng(0)
    feeds = {name: _random(np, generator, shape, types[name]) for name, shape in shapes.items()}
    source = model.SerializeToString() if not isinstance(model, (str, os.PathLike)) else str(model)
    try:
        session = runtime.InferenceSession(source, providers=[provider])
    except Exception as error:  # onnxruntime's own error types; one line for the user
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise ModelLoadError(
            f"onnxruntime {runtime.__version__} cannot load the model: {reason}; upgrade "
            "onnxruntime (pip install -U onnxruntime) or save the model with an IR version and "
            "opset it supports (counting without --time does not need onnxruntime)"
        ) from error
    for _ in range(warmup):
        session.run(None, feeds)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return Latency(tuple(times), provider, warmup)


def _random(np: Any, generator: Any, shape: tuple[int, ...], elem_type: int) -> Any:
    name, _bits = DTYPES.get(elem_type, ("float32", 32))
    if name == "bool":
        return generator.integers(0, 2, size=shape).astype(bool)
    if name.startswith(("int", "uint")):
        # NB: small non-negative integers: valid token ids and indices for most models
        return generator.integers(0, 2, size=shape).astype(name)
    return generator.standard_normal(size=shape).astype(name if name != "bfloat16" else "float32")
