"""Saved reports: the JSON form of a :class:`~flopwise.Report` (schema 2, or 1), read back without torch.

Every renderer reads a report through :class:`flopwise.render.view.ReportView`, which is built
from this form as well as from a live report; ``flopwise diff`` and ``flopwise check`` work on
this form directly, so they accept a live report or a file written by ``report.to_json()`` /
``flopwise profile -f json`` alike, and a CI job can gate on a saved report without importing
torch.

Besides the core keys, a report may carry *sections* (``memory``, ``roofline``, ``timing``,
...; :mod:`flopwise.schema`), each a JSON object. This module is the one place that knows where
the figures that budgets and summaries need live in them, one spelling each, as flopwise
writes them:

- peak memory: ``memory.peak_bytes``;
- estimated latency: ``roofline.time_s``;
- measured latency: ``timing.time_s``;
- the roofline's device: ``roofline.hardware`` with ``id``, ``peak_flops_per_s`` and
  ``bandwidth_bytes_per_s``.

>>> data = {"schema": 1, "convention": "standard", "total": {"params": 178, "macs": 640,
...         "flops": 1344, "bytes_read": 1352, "bytes_written": 544}, "modules": [],
...         "memory": {"peak_bytes": 4096}}
>>> peak_memory_bytes(as_dict(data)), estimated_latency_s(data)
(4096, None)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from flopwise.errors import UsageError
from flopwise.schema import CORE_KEYS, READABLE_SCHEMAS, SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "READABLE_SCHEMAS",
    "CORE_KEYS",
    "ReportLike",
    "RooflineDevice",
    "as_dict",
    "check_schema",
    "load_report",
    "peak_memory_bytes",
    "comm_bytes",
    "estimated_latency_s",
    "measured_latency_s",
    "roofline_device",
]

class _HasToDict(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


#: A live report (anything with ``to_dict()``) or its JSON form.
ReportLike = Mapping[str, Any] | _HasToDict


@dataclass(frozen=True)
class RooflineDevice:
    """The device a roofline was drawn for: peak FLOP/s and memory bandwidth (bytes/s)."""

    name: str
    peak_flops_per_s: float
    bandwidth_bytes_per_s: float

    @property
    def ridge_flops_per_byte(self) -> float:
        """Arithmetic intensity where the roof turns from memory- to compute-bound."""
        return self.peak_flops_per_s / self.bandwidth_bytes_per_s


def check_schema(data: Mapping[str, Any], source: str = "report") -> None:
    """Raise :class:`~flopwise.UsageError` unless ``data`` is a flopwise report of schema 1 or 2.

    >>> check_schema({"schema": 3, "total": {}, "modules": []}, "new.json")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flopwise.errors.UsageError: new.json is a flopwise report of schema 3, but this flopwise ...
    """
    if not isinstance(data, Mapping) or "total" not in data or "modules" not in data:
        raise UsageError(f"{source} is not a flopwise report (no 'total' and 'modules'); "
                         "write one with flopwise profile MODEL -f json -o FILE")
    schema = data.get("schema")
    if schema not in READABLE_SCHEMAS:
        raise UsageError(f"{source} is a flopwise report of schema {schema}, but this flopwise "
                         f"reads schemas {' and '.join(map(str, READABLE_SCHEMAS))}; re-create it "
                         "with this version (flopwise profile ... -f json)")


def as_dict(report: ReportLike, source: str = "report") -> dict[str, Any]:
    """The JSON form of a live report, or a checked copy of an already loaded one."""
    if isinstance(report, Mapping):
        data = dict(report)
    elif hasattr(report, "to_dict"):
        data = report.to_dict()
    else:
        raise UsageError(f"{source}: expected a flopwise Report or its to_dict() form, "
                         f"got {type(report).__name__}")
    check_schema(data, source)
    return data


def load_report(path: str | Path) -> dict[str, Any]:
    """Read a saved report (``report.to_json()``, ``flopwise profile -f json``) and check it.

    Raises :class:`~flopwise.UsageError` naming the file when it is missing, not JSON, not a
    report, or of another schema version.
    """
    location = Path(path)
    try:
        text = location.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {location}: {error.strerror or error}; "
                         "pass a report written by flopwise profile -f json -o FILE") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{location} is not JSON ({error.msg} at line {error.lineno}); "
                         "pass a report written by flopwise profile -f json -o FILE") from None
    return as_dict(data, str(location))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _field(data: Mapping[str, Any], section: str, key: str) -> float | None:
    """``data[section][key]`` when it is a finite number, else None."""
    place = data.get(section)
    return _number(place.get(key)) if isinstance(place, Mapping) else None


def comm_bytes(data: Mapping[str, Any]) -> int | None:
    """``comm.comm_bytes`` (bytes this rank sends) when the report has a comm section."""
    found = _field(data, "comm", "comm_bytes")
    return None if found is None else int(found)


def peak_memory_bytes(data: Mapping[str, Any]) -> int | None:
    """``memory.peak_bytes`` when the report has a memory section, else None."""
    found = _field(data, "memory", "peak_bytes")
    return None if found is None else int(found)


def estimated_latency_s(data: Mapping[str, Any]) -> float | None:
    """The roofline's estimated time of the whole run in seconds, else None."""
    return _field(data, "roofline", "time_s")


def measured_latency_s(data: Mapping[str, Any]) -> float | None:
    """The measured wall time of the whole run in seconds (``--time``), else None."""
    return _field(data, "timing", "time_s")


def roofline_device(data: Mapping[str, Any]) -> RooflineDevice | None:
    """Peak FLOP/s and bandwidth of the report's roofline device (``roofline.hardware``)."""
    section = data.get("roofline")
    device = section.get("hardware") if isinstance(section, Mapping) else None
    if not isinstance(device, Mapping):
        return None
    peak = _number(device.get("peak_flops_per_s"))
    bandwidth = _number(device.get("bandwidth_bytes_per_s"))
    if not peak or not bandwidth or peak <= 0 or bandwidth <= 0:
        return None
    return RooflineDevice(str(device.get("name") or device.get("id") or "device"), peak, bandwidth)
