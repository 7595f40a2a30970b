"""Shadow counts equal real-run counts on a deterministic sample of the torchvision zoo
(issue 18, must-show 1): every 8th of the 80 classification architectures in list order (10
models, about a minute), plus ViT-B/16 and Swin-T, the two attention families whose kernels
differ by device. ``python bench/shadow_zoo.py`` runs all 80."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.shadow_zoo import NAMES, compare  # noqa: E402

SAMPLE = sorted(set(NAMES[::8]) | {"vit_b_16", "swin_t"})


def test_the_sample_is_what_the_docstring_says():
    assert len(NAMES) == 80 and len(NAMES[::8]) == 10


@pytest.mark.slow
@pytest.mark.parametrize("name", SAMPLE)
def test_shadow_counts_equal_real_run_counts(name):
    same, line = compare(name)
    assert same, line
