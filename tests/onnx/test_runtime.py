"""``measure_latency``: onnxruntime timing, and the extra it needs."""

from __future__ import annotations

import sys

import pytest

from flopwise.errors import MissingExtraError, ModelLoadError, UsageError
from flopwise.onnx import Latency, measure_latency
from tests.onnx.builders import single, weights


def _model():
    return single("Conv", {"x": ["batch", 3, 8, 8]}, {"w": weights(4, 3, 3, 3)})


def test_measure_latency_runs_with_resolved_shapes(tmp_path) -> None:
    pytest.importorskip("onnxruntime")
    import onnx

    path = tmp_path / "conv.onnx"
    onnx.save(_model(), str(path))
    latency = measure_latency(path, {"batch": (2,)}, repeats=3, warmup=1)
    assert isinstance(latency, Latency) and len(latency.times_s) == 3
    assert 0 < latency.min_s <= latency.median_s
    assert latency.to_dict()["provider"] == "CPUExecutionProvider"
    assert len(measure_latency(_model(), {"x": (1, 3, 8, 8)}, repeats=1).times_s) == 1


def test_a_model_onnxruntime_cannot_load_is_one_clear_error() -> None:
    pytest.importorskip("onnxruntime")
    model = _model()
    model.ir_version = 99          # no onnxruntime reads IR 99
    with pytest.raises(ModelLoadError, match=r"onnxruntime .* cannot load the model: .*upgrade"):
        measure_latency(model, {"batch": (1,)}, repeats=1)


def test_measure_latency_needs_resolved_shapes_and_positive_repeats() -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(UsageError, match="'batch'"):
        measure_latency(_model())
    with pytest.raises(UsageError, match="repeats"):
        measure_latency(_model(), {"batch": (1,)}, repeats=0)


def test_missing_onnxruntime_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'flopwise\[onnx\]'"):
        measure_latency(_model(), {"batch": (1,)})
