"""Shared reports for the HTML, plot, diff and check tests.

ResNet-50 (torchvision) and GPT-2 (transformers, built from its config) are profiled once per
session on ``meta``: shapes only, no weights, nothing downloaded. The small MLPs are profiled
on real tensors; their figures are derived by hand in ``mlp_figures``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

import flopwise
from flopwise.models import load_model, make_inputs

# Sequential(Linear(8, H), ReLU, Linear(H, 2)) on a [4, 8] float32 input.
B, I, O = 4, 8, 2


def mlp(hidden: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(I, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, O))


def mlp_figures(hidden: int) -> dict[str, int]:
    """Totals of ``mlp(hidden)`` under the standard convention, by hand.

    params: I·H + H + H·O + O; MACs: B·I·H + B·H·O; FLOPs: 2 per MAC (bias folded into the
    pair) + one per ReLU element (B·H); bytes (float32): reads of the first linear's bias, input
    and weight, the ReLU's input, the second linear's bias, input and weight; writes of both
    linears' outputs and the ReLU's output.
    """
    return {
        "params": I * hidden + hidden + hidden * O + O,
        "macs": B * I * hidden + B * hidden * O,
        "flops": 2 * (B * I * hidden + B * hidden * O) + B * hidden,
        "bytes": 4 * ((hidden + B * I + I * hidden) + B * hidden + (O + B * hidden + hidden * O))
        + 4 * (B * hidden + B * hidden + B * O),
    }


def mlp_report(hidden: int, convention: str = "standard") -> flopwise.Report:
    return flopwise.profile(mlp(hidden), torch.randn(B, I), convention=convention)


def save(report: flopwise.Report | dict[str, Any], path: Path) -> Path:
    """Write a report the way users do: ``report.to_json()`` (or a dict as JSON)."""
    text = report.to_json() if isinstance(report, flopwise.Report) else json.dumps(report)
    path.write_text(text, encoding="utf-8")
    return path


def _zoo(spec: str) -> dict[str, Any]:
    loaded = load_model(spec, "meta")
    args, kwargs = make_inputs(loaded, [], {}, "meta")
    return flopwise.profile(loaded.model, args, kwargs, name=spec).to_dict()


@pytest.fixture(scope="session")
def resnet50() -> dict[str, Any]:
    """ResNet-50's report (JSON form), profiled on meta at [1, 3, 224, 224]."""
    pytest.importorskip("torchvision")
    return _zoo("torchvision:resnet50")


@pytest.fixture(scope="session")
def gpt2() -> dict[str, Any]:
    """GPT-2's report (JSON form): GPT2LMHeadModel from its default config, on meta, [1, 128]."""
    pytest.importorskip("transformers")
    return _zoo("hf:gpt2")
