"""``explain``: the parts of each split add up exactly to the difference of the totals."""

from __future__ import annotations

import pytest
import torch
import torchvision

import flopwise
from flopwise.errors import UsageError
from flopwise.explain import Explanation, explain_saved


def _on_meta(name: str) -> flopwise.Report:
    with torch.device("meta"):
        model = getattr(torchvision.models, name)().eval()
    return flopwise.profile(model, torch.empty(1, 3, 224, 224, device="meta"),
                            convention="macs")


@pytest.fixture(scope="module")
def resnet50() -> flopwise.Report:
    return _on_meta("resnet50")


def _adds_up(why: Explanation) -> None:
    for parts in (why.by_family, why.by_op, why.by_module):
        assert sum(part.delta for part in parts) == why.difference
        assert sum(part.second - part.first for part in parts) == why.difference


def test_resnet50_macs_to_fvcore(resnet50: flopwise.Report) -> None:
    why = resnet50.explain("fvcore")
    assert why.difference == (resnet50.using("fvcore").total.flops
                              - resnet50.using("macs").total.flops)
    _adds_up(why)
    # Batch norm (running statistics, affine) is 2 per element for fvcore. The elements every
    # BN normalises in torchvision's ResNet-50 (v1.5: stride in the 3×3 conv), at 224²:
    stem = 64 * 112**2
    layer1 = 3 * (64 + 64 + 256) * 56**2 + 256 * 56**2                       # + downsample
    layer2 = (128 * 56**2 + 128 * 28**2 + 2 * 512 * 28**2) + 3 * (128 + 128 + 512) * 28**2
    layer3 = (256 * 28**2 + 256 * 14**2 + 2 * 1024 * 14**2) + 5 * (256 + 256 + 1024) * 14**2
    layer4 = (512 * 14**2 + 512 * 7**2 + 2 * 2048 * 7**2) + 2 * (512 + 512 + 2048) * 7**2
    bn_elements = stem + layer1 + layer2 + layer3 + layer4
    assert bn_elements == 11_113_984
    pool = 2048 * 7 * 7            # the 1×1 adaptive average pool: 1 per input element
    parts = {part.name: part.delta for part in why.by_family}
    assert parts == {"normalisation": 2 * bn_elements, "reduction": pool}
    assert why.difference == 2 * bn_elements + pool
    assert {p.name: p.delta for p in why.by_op} == {"aten.native_batch_norm": 2 * bn_elements,
                                                    "aten.mean": pool}
    assert dict((p.name, p.delta) for p in why.by_module)["bn1"] == 2 * stem


def test_mobilenet_v3_macs_to_fvcore() -> None:
    report = _on_meta("mobilenet_v3_large")
    why = report.explain("fvcore")
    _adds_up(why)
    assert why.difference == report.using("fvcore").total.flops - report.total.flops > 0
    assert {part.name for part in why.by_family} == {"normalisation", "reduction"}


def test_other_directions_add_up(resnet50: flopwise.Report) -> None:
    for first, second in (("standard", "thop"), ("fvcore", "exact"), ("thop", "fvcore")):
        _adds_up(resnet50.using(first).explain(second))


def test_saved_reports_of_one_run(resnet50: flopwise.Report) -> None:
    why = explain_saved(resnet50.to_dict(), resnet50.using("fvcore").to_dict())
    assert why == resnet50.explain("fvcore")
    assert Explanation.from_dict(why.to_dict()) == why


def test_saved_reports_of_different_runs_are_refused(resnet50: flopwise.Report) -> None:
    other = flopwise.profile(torch.nn.Linear(2, 2), torch.randn(1, 2)).to_dict()
    with pytest.raises(UsageError, match="different runs"):
        explain_saved(resnet50.to_dict(), other)
