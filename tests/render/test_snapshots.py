"""Whole-output snapshots of the renderers at a fixed width (120 columns, no colour).

The models are small enough that every number is derived by hand below; the snapshot files in
``tests/render/snapshots/`` are compared exactly. After an intended change of the output,
regenerate them with

    FLOPWISE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/render -q

and read the diff of the snapshot files before committing it.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import flopwise
from flopwise.render.csv import render_csv
from flopwise.render.markdown import render_markdown
from flopwise.render.table import render_ops_text, render_text
from flopwise.render.tree import render_tree
from flopwise.render.view import ReportView
from flopwise.report import Report

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("FLOPWISE_UPDATE_SNAPSHOTS") == "1"
WIDTH = 120

# Sequential(Linear(8, 16), ReLU, Linear(16, 2)) on a [4, 8] float32 input.
B, I, H, O = 4, 8, 16, 2
MACS = B * I * H + B * H * O                      # 512 + 128 = 640
RELU = B * H                                      # one FLOP per element: 64
STANDARD_FLOPS = 2 * MACS + RELU                  # 1344
PARAMS = I * H + H + H * O + O                    # 178
F32 = 4
READ = (H + B * I + I * H) * F32 + B * H * F32 + (O + B * H + H * O) * F32  # 704 + 256 + 392
WRITTEN = B * H * F32 + B * H * F32 + B * O * F32                          # 256 + 256 + 32

# Backward of output.sum(): the input needs no grad, so Linear 0 computes only its weight grad.
BACKWARD_MACS = B * O * H + O * B * H + H * B * I  # dX2, dW2, dW1: 128 + 128 + 512 = 768
BACKWARD_ELEMENTWISE = B * H + B * H + B * O       # relu grad 64, bias grads (sums) 64 + 8
LOSS_SUM = B * O                                   # output.sum() in the forward: 8


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(I, H), torch.nn.ReLU(), torch.nn.Linear(H, O))


@torch.library.custom_op("flopwise_render_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    """An op with no formula and no decomposition: always unsupported."""
    return x.clone()


@mystery.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Holder(torch.nn.Module):
    """The MLP, a spare layer that never runs, and one unsupported op after the MLP."""

    def __init__(self) -> None:
        super().__init__()
        self.body = mlp()
        self.spare = torch.nn.Linear(O, O)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mystery(self.body(x))


def forward_report() -> Report:
    return flopwise.profile(mlp(), torch.randn(B, I))


def backward_report() -> Report:
    return flopwise.profile(mlp(), torch.randn(B, I), backward=True)


def holder_report() -> Report:
    return flopwise.profile(Holder(), torch.randn(B, I), convention="macs")


CASES: dict[str, tuple[Callable[[], Report], Callable[[Report | ReportView], str]]] = {
    "mlp_table.txt": (forward_report, lambda r: render_text(r, width=WIDTH)),
    "mlp_backward_table.txt": (backward_report, lambda r: render_text(r, width=WIDTH)),
    "mlp_tree.txt": (forward_report, lambda r: render_tree(r, width=WIDTH)),
    "mlp_backward_tree.txt": (
        backward_report,
        lambda r: render_tree(r, columns="flops,forward_flops,backward_flops,%flops", width=WIDTH),
    ),
    "mlp.md": (forward_report, render_markdown),
    "mlp.csv": (forward_report, render_csv),
    "mlp_ops.txt": (forward_report, lambda r: render_ops_text(r, width=WIDTH)),
    "holder_table.txt": (
        holder_report,
        lambda r: render_text(r, columns="name,type,calls,params,self_flops,flops,%flops",
                              max_depth=1, width=WIDTH, ops=True),
    ),
    "holder.md": (holder_report, lambda r: render_markdown(r, max_depth=1)),
    "holder.csv": (holder_report, lambda r: render_csv(r, columns="name,calls,params,macs")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot(name: str) -> None:
    make, render = CASES[name]
    text = render(make())
    path = SNAPSHOTS / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"missing snapshot {path}; run with FLOPWISE_UPDATE_SNAPSHOTS=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(CASES))
def test_snapshot_from_the_saved_form(name: str) -> None:
    """The same output from the report's JSON form as from the live report."""
    make, render = CASES[name]
    saved = ReportView.load(json.loads(make().to_json()))
    assert render(saved) == (SNAPSHOTS / name).read_text(encoding="utf-8")


def test_forward_numbers_behind_the_snapshots() -> None:
    report = forward_report()
    total = report.total
    assert (total.params, total.macs, total.flops) == (PARAMS, MACS, STANDARD_FLOPS)
    assert (total.bytes_read, total.bytes_written) == (READ, WRITTEN) == (1352, 544)
    text = render_text(report, width=WIDTH)
    assert "FLOPs (standard)  1.34 K (1,344)" in text    # 1344 with an SI prefix, then exact
    assert "bytes read        1.32 KiB" in text          # 1352 / 1024
    assert "76.2%" in text                               # Linear 0: 2·512 / 1344


def test_backward_numbers_behind_the_snapshots() -> None:
    phases = backward_report().phases
    assert phases["forward"].flops == STANDARD_FLOPS + LOSS_SUM
    assert phases["backward"].macs == BACKWARD_MACS
    assert phases["backward"].flops == 2 * BACKWARD_MACS + BACKWARD_ELEMENTWISE  # 1672


def test_holder_numbers_behind_the_snapshots() -> None:
    report = holder_report()
    assert report.total.params == PARAMS + O * O + O           # the spare layer counts: 184
    assert report.total.flops == report.total.macs == MACS     # the macs convention
    assert report.unsupported == {"flopwise_render_test.mystery.default": 1}
    text = render_text(report, max_depth=1, width=WIDTH)
    assert "spare (not called)" in text
    assert "--strict" in text


def test_str_and_rich_of_a_report_use_these_renderers() -> None:
    from rich.console import Console

    report = forward_report()
    assert str(report) == render_text(report)
    console = Console(width=WIDTH, color_system=None, record=True, file=io.StringIO())
    console.print(report)
    assert "FLOPs (standard)" in console.export_text()
