"""Every torchvision classification model against its published cost (check-values.md).

torchvision stores, on each weights entry, ``meta["num_params"]`` and ``meta["_ops"]`` (GMACs of
convolutions, linear layers and matmuls, at the weights' evaluation crop). They are the oracle
here: params must be equal, MACs within 0.5% — or, for the smallest models, within the rounding
of the published figure (``_ops`` has three decimals: 0.057 stands for anything in
[0.0565, 0.0575) GMACs, wider than 0.5% of 0.057).
"""

from __future__ import annotations

import warnings

import pytest
import torch
import torchvision
from torchvision.models import get_model, get_model_weights, list_models

import flopwise
from flopwise.models import build_torchvision, torchvision_weights_kwargs

NAMES = list_models(module=torchvision.models)


def _build(name: str, weights) -> torch.nn.Module:
    """The architecture these weights describe, without them, on meta."""
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        return build_torchvision(name, weights).eval()


def _cases():
    for name in NAMES:
        seen = {}
        for weights in get_model_weights(name):
            kwargs = torchvision_weights_kwargs(name, weights)
            crop = weights.transforms().crop_size[0]
            key = (crop, tuple(sorted(kwargs.items())))
            seen.setdefault(key, []).append(weights)
        for (crop, _kwargs), entries in seen.items():
            yield pytest.param(name, crop, entries, id=f"{name}-{crop}")


@pytest.mark.slow
@pytest.mark.parametrize("name,crop,entries", list(_cases()))
def test_published_macs_and_params(name, crop, entries):
    model = _build(name, entries[0])
    report = flopwise.profile(model, torch.empty(1, 3, crop, crop, device="meta"))
    assert report.unsupported == {}
    assert report.formula_errors == {}
    for weights in entries:
        published_macs = weights.meta["_ops"] * 1e9
        tolerance = max(0.005 * published_macs, 0.0005e9)
        assert abs(report.total.macs - published_macs) <= tolerance, (weights, report.total.macs)
        assert report.total.params == weights.meta["num_params"], weights
        assert report.using("macs").total.flops == report.total.macs


def test_the_whole_list_is_covered():
    # list_models(module=torchvision.models) is the classification zoo: 80 architectures here
    assert len(NAMES) >= 80
    covered = {case.values[0] for case in _cases()}
    assert covered == set(NAMES)


def test_check_values_examples():
    # check-values.md: resnet50 25,557,032 params, 4.089 GMACs
    with torch.device("meta"):
        model = get_model("resnet50", weights=None).eval()
    report = flopwise.profile(model, torch.empty(1, 3, 224, 224, device="meta"))
    assert report.total.params == 25_557_032
    assert round(report.total.macs / 1e9, 3) == 4.089
