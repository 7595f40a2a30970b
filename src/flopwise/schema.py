"""The JSON form of a report: one version constant and one registry of report sections.

A *section* is an optional, typed part of a :class:`~flopwise.Report` beyond the counts
(``memory``, ``roofline``, ``timing``, ``onnx``, ``comm``, and the coming ``serving``,
``scaling``, ``throughput``). Each is a frozen dataclass that

- names its JSON key in a class attribute ``KEY``;
- writes itself with ``to_dict()`` (plain JSON values) and reads that back with the class method
  ``from_dict(data)``;
- is registered below in :data:`SECTIONS` by that key, as ``"module:Class"`` (imported on first
  use, so reading a saved report never imports torch through a section it does not read).

Adding a section is one new module (the dataclass), its test, and one line in
:data:`SECTIONS`. A library function computes it; ``report.with_section(section)`` returns the
report with it attached, and ``report.section(Kind)`` / ``report.sections[KEY]`` read it back::

    @dataclass(frozen=True)
    class Serving:
        KEY: ClassVar[str] = "serving"
        tokens_per_s: float

        def to_dict(self) -> dict[str, Any]:
            return {"tokens_per_s": self.tokens_per_s}

        @classmethod
        def from_dict(cls, data: Mapping[str, Any]) -> Serving:
            return cls(float(data["tokens_per_s"]))

    # in SECTIONS:  "serving": "flopwise.serving.section:Serving",
    report = report.with_section(Serving(1234.5))
    report.section(Serving).tokens_per_s, report.to_dict()["serving"]

A key a file carries but this version does not know is kept as a :class:`RawSection` (its JSON
as read), so newer files still load, diff and render their core.

>>> section_type("memory").__name__, section_type("roofline").__name__
('MemoryReport', 'RooflineEstimate')
>>> read_section("build", {"commit": "abc"})
RawSection(key='build', data={'commit': 'abc'})
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from flopwise.errors import UsageError

__all__ = [
    "CORE_KEYS",
    "SCHEMA_VERSION",
    "READABLE_SCHEMAS",
    "SECTIONS",
    "RawSection",
    "Section",
    "read_section",
    "read_sections",
    "section_type",
]

#: The version of the JSON form every report is written in; 2 added the ``comm`` section.
SCHEMA_VERSION = 2
#: The versions read back: a schema-1 file is a schema-2 report without ``comm``.
READABLE_SCHEMAS = (1, 2)

#: Keys of the core report; every other object-valued key is a section.
CORE_KEYS = frozenset({
    "schema", "convention", "convention_manifest", "run", "total", "phases", "modules", "ops",
    "unsupported", "decomposed", "parameters", "formula_errors",
})

#: Every registered section: its JSON key -> ``"module:Class"``.
SECTIONS: dict[str, str] = {
    "memory": "flopwise.memory.report:MemoryReport",
    "roofline": "flopwise.hardware.estimate:RooflineEstimate",
    "timing": "flopwise.timing:Timing",
    "onnx": "flopwise.onnx.info:OnnxInfo",
    "serving": "flopwise.serving.section:ServingSection",
    "comm": "flopwise.distributed.report:CommReport",
    "pipeline": "flopwise.distributed.pipeline_section:PipelineSection",
    "scaling": "flopwise.symbolic.scaling:Scaling",
}


@runtime_checkable
class Section(Protocol):
    """What a report section provides (see the module docstring)."""

    KEY: ClassVar[str]

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class RawSection:
    """A section this version has no type for, kept as the JSON it was read from."""

    key: str
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


def section_type(key: str) -> type:
    """The class registered for ``key``; :class:`~flopwise.UsageError` for an unknown key."""
    if key not in SECTIONS:
        raise UsageError(f"no report section is registered as {key!r}; known: "
                         f"{', '.join(sorted(SECTIONS))} (flopwise.schema.SECTIONS)")
    module, _, name = SECTIONS[key].partition(":")
    kind: type = getattr(importlib.import_module(module), name)
    return kind


def key_of(section: Any) -> str:
    """The JSON key of a section object (its ``KEY``, or a raw section's ``key``)."""
    if isinstance(section, RawSection):
        return section.key
    key = getattr(type(section), "KEY", None)
    if not isinstance(key, str) or key not in SECTIONS:
        raise UsageError(f"{type(section).__name__} is not a registered report section; give it "
                         "a KEY and register it in flopwise.schema.SECTIONS")
    return key


def read_section(key: str, data: Mapping[str, Any]) -> Any:
    """The typed section of one JSON key (a :class:`RawSection` when ``key`` is unknown)."""
    if key not in SECTIONS:
        return RawSection(key, dict(data))
    return section_type(key).from_dict(data)  # type: ignore[attr-defined]


def read_sections(data: Mapping[str, Any]) -> dict[str, Any]:
    """Every section of a report's JSON form, typed where registered, in file order."""
    return {key: read_section(key, value) for key, value in data.items()
            if key not in CORE_KEYS and isinstance(value, Mapping)}
