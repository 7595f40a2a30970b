"""Why two FLOP counts of the same run differ: the difference between two conventions' totals,
split by op family, by op and by module, with parts that add up exactly to the difference.

Works on a live report (``report.explain("fvcore")``) and on two saved reports of the same run
under different conventions (``flopwise explain A.json B.json``), where ``flopwise diff``
refuses: FLOPs of different conventions are not comparable module by module, but their
difference is explainable op by op.

>>> import torch, flopwise
>>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)).eval()
>>> why = flopwise.profile(net, torch.randn(1, 3, 6, 6), convention="macs").explain("fvcore")
>>> why.difference        # fvcore counts eval batch norm 2 per element (affine): 2·4·4·4
128
>>> [(part.name, part.delta) for part in why.by_family]
[('normalisation', 128)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flopwise.errors import UsageError

__all__ = ["Explanation", "Part", "explain", "explain_saved"]


@dataclass(frozen=True)
class Part:
    """One share of the difference: FLOPs under the first and the second convention."""

    name: str
    first: int
    second: int

    @property
    def delta(self) -> int:
        return self.second - self.first

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "first": self.first, "second": self.second,
                "delta": self.delta}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Part:
        return cls(str(data["name"]), int(data["first"]), int(data["second"]))


@dataclass(frozen=True)
class Explanation:
    """``second_total − first_total``, split three ways; each split's deltas sum to it exactly.

    Only parts that differ are kept. ``by_module`` splits by each module's *self* FLOPs (the
    ops it runs itself), so the parts never count an op twice.
    """

    model: str
    first: str
    second: str
    first_total: int
    second_total: int
    by_family: tuple[Part, ...]
    by_op: tuple[Part, ...]
    by_module: tuple[Part, ...]

    @property
    def difference(self) -> int:
        return self.second_total - self.first_total

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "first": self.first, "second": self.second,
            "first_total": self.first_total, "second_total": self.second_total,
            "difference": self.difference,
            "by_family": [p.to_dict() for p in self.by_family],
            "by_op": [p.to_dict() for p in self.by_op],
            "by_module": [p.to_dict() for p in self.by_module],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        return cls(
            str(data["model"]), str(data["first"]), str(data["second"]),
            int(data["first_total"]), int(data["second_total"]),
            *(tuple(Part.from_dict(p) for p in data[key])
              for key in ("by_family", "by_op", "by_module")),
        )


def explain(report: Any, other: str) -> Explanation:
    """The difference between ``report``'s convention and ``other`` (nothing is re-run)."""
    return explain_saved(_summary(report), _summary(report.using(other)))


def explain_saved(first: Mapping[str, Any], second: Mapping[str, Any]) -> Explanation:
    """The same, from two saved reports (``report.to_dict()`` / ``flopwise profile -f json``)
    of one run. Raises :class:`~flopwise.UsageError` when they are of different runs."""
    for key in ("model", "inputs"):
        if first["run"].get(key) != second["run"].get(key):
            raise UsageError(
                f"the two reports are of different runs ({key} {first['run'].get(key)!r} vs "
                f"{second['run'].get(key)!r}); explain compares two conventions of one run: "
                "profile the same model and inputs with each --convention (flopwise diff "
                "compares two runs)")
    ops_a, ops_b = _sums(first["ops"], "op", "flops"), _sums(second["ops"], "op", "flops")
    return Explanation(
        model=str(first["run"].get("model", "")),
        first=str(first["convention"]), second=str(second["convention"]),
        first_total=int(first["total"]["flops"]), second_total=int(second["total"]["flops"]),
        by_family=_parts(_by_family(ops_a), _by_family(ops_b)),
        by_op=_parts(_by_packet(ops_a), _by_packet(ops_b)),
        by_module=_parts(_sums(first["modules"], "name", "self_flops"),
                         _sums(second["modules"], "name", "self_flops")),
    )


def _summary(report: Any) -> dict[str, Any]:
    """The parts of ``report.to_dict()`` that explain reads, without the rest."""
    return {
        "convention": report.convention.name,
        "run": {"model": report.run.model, "inputs": [list(s) for s in report.run.inputs]},
        "total": {"flops": report.total.flops},
        "ops": [{"op": row.op, "flops": row.flops} for row in report.ops()],
        "modules": [{"name": row.name, "self_flops": row.self_flops}
                    for row in report.modules()],
    }


def _sums(rows: Iterable[Mapping[str, Any]], key: str, value: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[str(row[key])] += int(row[value])
    return totals


def _packet(op: str) -> str:
    """``aten.mm.default`` → ``aten.mm``."""
    return op.rpartition(".")[0] if op.count(".") >= 2 else op


def _by_packet(ops: Mapping[str, int]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for op, flops in ops.items():
        totals[_packet(op)] += flops
    return totals


def _by_family(ops: Mapping[str, int]) -> dict[str, int]:
    """Per formula family of the registry (``matmul``, ``normalisation``, ``pooling``…)."""
    from flopwise.formulas import builtin_registry

    registry = builtin_registry()
    totals: dict[str, int] = defaultdict(int)
    for op, flops in ops.items():
        entry = registry.lookup(op)
        totals[entry.family if entry is not None else "unregistered"] += flops
    return totals


def _parts(first: Mapping[str, int], second: Mapping[str, int]) -> tuple[Part, ...]:
    names = list(first) + [name for name in second if name not in first]
    parts = [Part(name, first.get(name, 0), second.get(name, 0)) for name in names]
    kept = [part for part in parts if part.delta != 0]
    return tuple(sorted(kept, key=lambda p: (-abs(p.delta), p.name)))
