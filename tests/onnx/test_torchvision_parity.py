"""torchvision models exported with torch.onnx.export: the ONNX count equals the PyTorch count.

MACs, parameters and FLOPs (standard convention) must be equal, in total and per module — the
ONNX formulas share the PyTorch formulas' arithmetic, and the exporters' name scopes give the
same module names.

Export settings, and why:
- ``do_constant_folding=False`` (TorchScript exporter) and ``optimize=False`` (torch.export
  exporter): otherwise BatchNorm is folded into the preceding convolution, which removes BN's
  per-element work and changes the parameter count (C folded biases instead of 2·C affine
  parameters per BN) — a different model, correctly counted as such.
- every parameter is perturbed: the TorchScript exporter stores equal-valued initializers once
  (freshly initialised zero biases, unit BN scales) and an untrained model would lose those
  duplicates; trained weights are never equal.
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision

import flopwise
from flopwise.onnx import profile_onnx

# model, input side: small inputs keep the exports fast (both sides see the same shape)
LEGACY = [("resnet18", 64), ("mobilenet_v2", 64), ("squeezenet1_0", 64), ("densenet121", 64),
          ("mnasnet0_5", 64)]


def _model(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)().eval()
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 1e-3)
    return model


def _export(model: torch.nn.Module, x: torch.Tensor, path, dynamo: bool) -> None:
    options = {"optimize": False, "verbose": False} if dynamo else {"do_constant_folding": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), dynamo=dynamo, input_names=["x"], **options)


def _check(name: str, side: int, dynamo: bool, tmp_path) -> None:
    model = _model(name)
    x = torch.randn(1, 3, side, side)
    expected = flopwise.profile(model, x)
    path = tmp_path / f"{name}.onnx"
    _export(model, x, path, dynamo)
    counted = profile_onnx(path)
    assert counted.unsupported == {} and counted.formula_errors == {}
    assert counted.total.macs == expected.total.macs
    assert counted.total.params == expected.total.params
    assert counted.total.flops == expected.total.flops
    torch_rows = {row.name: row for row in expected.modules()}
    for row in counted.modules():
        assert row.name in torch_rows, row.name
        assert (row.macs, row.params) == (torch_rows[row.name].macs, torch_rows[row.name].params)


@pytest.mark.slow
@pytest.mark.parametrize("name, side", LEGACY, ids=[n for n, _ in LEGACY])
def test_torchscript_export_matches_pytorch(name: str, side: int, tmp_path) -> None:
    _check(name, side, dynamo=False, tmp_path=tmp_path)


@pytest.mark.slow
def test_torch_export_exporter_matches_pytorch(tmp_path) -> None:
    pytest.importorskip("onnxscript")
    _check("resnet18", 64, dynamo=True, tmp_path=tmp_path)
