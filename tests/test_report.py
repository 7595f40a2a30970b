"""Report sections attached by the report's own methods (flopwise.report)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import torch

import flopwise
from flopwise.errors import UsageError
from flopwise.hardware import get_accelerator
from flopwise.hardware.estimate import RooflineEstimate
from flopwise.memory import MemoryReport, with_largest_batch
from flopwise.timing import Timing

B, I, O = 4, 8, 2        # Linear(8, 2) on a [4, 8] input


def linear_report(**kwargs: Any) -> flopwise.Report:
    torch.manual_seed(0)
    return flopwise.profile(torch.nn.Linear(I, O), torch.randn(B, I), **kwargs)


def test_with_roofline_returns_a_new_report_and_leaves_the_old_one() -> None:
    report = linear_report()
    on_h100 = report.with_roofline("h100-sxm", compute_efficiency=0.5)
    assert report.roofline is None and "roofline" not in report.to_dict()
    assert isinstance(on_h100.roofline, RooflineEstimate)
    assert on_h100.section(RooflineEstimate) is on_h100.roofline
    assert on_h100.roofline.compute_efficiency == 0.5
    assert on_h100.roofline.flops == 2 * B * I * O               # standard: 2 per MAC, bias folded
    assert on_h100.to_dict()["roofline"]["hardware"]["id"] == "h100-sxm"
    assert on_h100.using("macs").roofline is on_h100.roofline     # conventions keep sections


def test_memory_then_batch_fit_keeps_the_section_in_its_place() -> None:
    report = linear_report(memory=True).with_roofline("h100-sxm")
    assert list(report.sections) == ["memory", "roofline"]
    fitted = with_largest_batch(report, torch.nn.Linear(I, O), (torch.randn(B, I),),
                                hardware="h100-sxm")
    assert list(fitted.sections) == ["memory", "roofline"]
    assert isinstance(fitted.memory, MemoryReport) and report.memory.fit is None
    fit = fitted.memory.fit
    assert fit.bytes_per_sample == 4 * (I + O)              # one input row, one output row
    assert fit.batches == (2, 4)
    usable = get_accelerator("h100-sxm").memory_bytes
    assert fit.batch == (usable - fit.fixed_bytes) // fit.bytes_per_sample
    with pytest.raises(UsageError, match="memory=True"):
        with_largest_batch(linear_report(), torch.nn.Linear(I, O), (torch.randn(B, I),),
                           hardware="h100-sxm")


def test_with_timing_measures_the_model_the_report_counted() -> None:
    model = torch.nn.Linear(I, O)
    report = flopwise.profile(model, torch.randn(B, I))
    timed = report.with_timing(model, torch.randn(B, I), warmup=0, repeats=2,
                               hardware="h100-sxm")
    assert isinstance(timed.timing, Timing) and report.timing is None
    assert timed.timing.repeats == 2 and timed.timing.samples == B
    assert timed.timing.flops == 2 * B * I * O and timed.timing.hardware == "h100-sxm"
    assert json.loads(timed.to_json())["timing"]["repeats"] == 2


@dataclass(frozen=True)
class _Unregistered:
    KEY: ClassVar[str] = "not-registered"

    def to_dict(self) -> dict[str, Any]:
        return {}


def test_a_section_must_be_registered() -> None:
    with pytest.raises(UsageError, match="_Unregistered is not a registered report section"):
        linear_report().with_section(_Unregistered())
