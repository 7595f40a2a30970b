"""The section registry and version-1 files (tests/fixtures/v1, written by flopwise d5a0023).

The fixtures profile Sequential(Conv2d(3, 4, 3, padding=1), BatchNorm2d(4), ReLU, Flatten,
Linear(256, 10)) on a [2, 3, 8, 8] float32 input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flopwise.errors import UsageError
from flopwise.schema import (
    SECTIONS,
    RawSection,
    key_of,
    read_section,
    read_sections,
    section_type,
)

V1 = Path(__file__).parent / "fixtures" / "v1"
PARAMS = (3 * 4 * 3 * 3 + 4) + (4 + 4) + (256 * 10 + 10)      # conv, batch norm, linear


def v1(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((V1 / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("key", sorted(SECTIONS))
def test_every_registered_section_names_its_own_key(key: str) -> None:
    kind = section_type(key)
    assert key == kind.KEY  # type: ignore[attr-defined]
    assert callable(kind.from_dict) and callable(kind.to_dict)  # type: ignore[attr-defined]


def test_version_1_sections_read_back_typed() -> None:
    data = v1("convnet_sections")
    sections = read_sections(data)
    assert list(sections) == ["memory", "roofline", "timing"]
    memory, roofline, timing = sections["memory"], sections["roofline"], sections["timing"]
    assert memory.params_bytes == 4 * PARAMS                     # float32
    assert memory.buffers_bytes == 4 * 4 + 4 * 4 + 8            # running mean, var; int64 count
    assert memory.inputs_bytes == 4 * 2 * 3 * 8 * 8
    assert memory.peak_bytes == data["memory"]["peak_bytes"]     # derived again, same figure
    assert memory.fit.batches == (2, 4) and memory.fit.device == "h100-sxm"
    assert roofline.hardware_id == "h100-sxm" and roofline.bound.value == "memory"
    assert [m.name for m in roofline.modules][:2] == ["", "0"]
    assert timing.repeats == 3 and timing.warmup == 1 and timing.samples == 2
    assert [m.name for m in timing.modules] == ["", "0", "1", "2", "3", "4"]


@pytest.mark.parametrize("name", ["convnet_sections", "convnet_train"])
def test_version_1_sections_write_back_what_was_read(name: str) -> None:
    data = v1(name)
    for key, section in read_sections(data).items():
        written = section.to_dict()
        if key == "roofline":                    # version 1 had no compute-bound seconds
            written.pop("compute_bound_s")
            for row in written["modules"] + written["ops"]:
                row.pop("compute_bound_s")
        assert written == data[key], key


def test_unknown_keys_stay_raw_and_unregistered_objects_are_refused() -> None:
    assert read_section("build", {"bytes": 8}) == RawSection("build", {"bytes": 8})
    assert key_of(RawSection("build", {})) == "build"
    with pytest.raises(UsageError, match="not a registered report section"):
        key_of(object())
    with pytest.raises(UsageError, match="no report section is registered as 'build'"):
        section_type("build")
