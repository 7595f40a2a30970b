"""A deterministic sample of the timm zoo through ``flopwise profile timm:NAME`` on meta.

The whole zoo (every ``timm.list_models()`` entry) is the benchmark ``bench/timm_zoo.py``; CI
runs every 25th model of the sorted list (55 of timm 1.0.31's 1,371, 4 %, spread over the
alphabet and so over the families), through the same check: the CLI, with its defaults (meta,
the ``pretrained_cfg`` input size), exits 0, stays on meta, lists no unsupported op and no
formula error, and reports as many parameters as timm's own count (``sum(p.numel())`` of
``timm.create_model``'s model, built separately).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

timm = pytest.importorskip("timm")

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.timm_zoo import check_model  # noqa: E402

STRIDE = 25
SAMPLE = sorted(timm.list_models())[::STRIDE]


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE)
def test_profiles_with_timms_parameter_count(name: str) -> None:
    record = check_model(name)
    assert record["exit"] == 0, record.get("error")
    assert record["device"] == "meta", record["notes"]       # no fallback to real weights
    assert record["unsupported"] == {}
    assert record["formula_errors"] == {}
    assert record["params"] == record["timm_params"]

