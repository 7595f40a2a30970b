"""The ``comm`` section of a report: what this rank sent, per collective, module and phase.

Built from the run's collective events (:class:`flopwise.formulas.comm.Collective`); a typed
report section (:mod:`flopwise.schema`, key ``comm``), read back with ``report.comm``. Its JSON
form (``to_dict``) has the totals (``comm_bytes``: bytes this rank sends under the named
algorithms; ``payload_bytes``), one row per collective (op, kind, algorithm, group size and
ranks, module, phase, calls, payload, wire bytes), each module's inclusive ``comm_bytes`` and
this rank's parameters.

>>> row = CommRow("c10d.allreduce_.default", "all_reduce", "ring", 4, (0, 1, 2, 3), "", "backward",
...               1, 1024, 1536)
>>> section = CommReport(rank=0, world_size=4, backend="gloo", local_params=10,
...                      local_param_bytes=40, rows=(row,), module_bytes={"": 1536})
>>> section.comm_bytes, CommReport.from_dict(section.to_dict()) == section
(1536, True)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from flopwise.capture.events import OpEvent
from flopwise.tree import parent_name

__all__ = ["CommRow", "CommReport", "ModuleComm", "build_comm_report"]


@dataclass(frozen=True)
class CommRow:
    """One collective (op, group, module, phase) aggregated over its calls; bytes are ints."""

    op: str
    kind: str
    algorithm: str
    group_size: int
    ranks: tuple[int, ...]
    module: str
    phase: str
    calls: int
    payload_bytes: int
    wire_bytes: int
    source: str = "dispatch"

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "algorithm": self.algorithm,
                "group_size": self.group_size, "ranks": list(self.ranks),
                "module": self.module, "phase": self.phase, "calls": self.calls,
                "payload_bytes": self.payload_bytes, "wire_bytes": self.wire_bytes,
                "source": self.source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommRow:
        return cls(str(data["op"]), str(data["kind"]), str(data["algorithm"]),
                   int(data["group_size"]), tuple(int(r) for r in data.get("ranks", ())),
                   str(data["module"]), str(data["phase"]), int(data["calls"]),
                   int(data["payload_bytes"]), int(data["wire_bytes"]),
                   str(data.get("source", "dispatch")))


@dataclass(frozen=True)
class ModuleComm:
    """One module's bytes on the wire, its children included (what tree columns show)."""

    name: str
    comm_bytes: int


@dataclass(frozen=True)
class CommReport:
    """This rank's communication in one profile run, with its share of the parameters."""

    KEY: ClassVar[str] = "comm"
    rank: int
    world_size: int
    backend: str
    local_params: int
    local_param_bytes: int
    rows: tuple[CommRow, ...] = ()
    module_bytes: dict[str, int] = field(default_factory=dict)

    @property
    def comm_bytes(self) -> int:
        """Bytes this rank sends, every collective of the run."""
        return sum(row.wire_bytes for row in self.rows)

    @property
    def payload_bytes(self) -> int:
        return sum(row.payload_bytes for row in self.rows)

    @property
    def phases(self) -> dict[str, int]:
        """Bytes sent per phase (``forward``, ``backward``, ...)."""
        totals: dict[str, int] = {}
        for row in self.rows:
            totals[row.phase] = totals.get(row.phase, 0) + row.wire_bytes
        return totals

    def module(self, name: str) -> ModuleComm:
        """A module's inclusive bytes sent (``KeyError`` when it sent nothing)."""
        return ModuleComm(name, self.module_bytes[name])

    def select(self, *, kind: str | None = None, phase: str | None = None,
               module: str | None = None) -> list[CommRow]:
        """The rows of one kind / phase / module (``None``: any)."""
        return [row for row in self.rows
                if (kind is None or row.kind == kind) and (phase is None or row.phase == phase)
                and (module is None or row.module == module)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank, "world_size": self.world_size, "backend": self.backend,
            "comm_bytes": self.comm_bytes, "payload_bytes": self.payload_bytes,
            "phases": self.phases,
            "local_params": self.local_params, "local_param_bytes": self.local_param_bytes,
            "collectives": [row.to_dict() for row in self.rows],
            "modules": {name: {"comm_bytes": value}
                        for name, value in self.module_bytes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CommReport:
        modules = data.get("modules") or {}
        return cls(int(data["rank"]), int(data["world_size"]), str(data.get("backend", "")),
                   int(data.get("local_params", 0)), int(data.get("local_param_bytes", 0)),
                   tuple(CommRow.from_dict(row) for row in data.get("collectives", ())),
                   {str(name): int(fields["comm_bytes"]) for name, fields in modules.items()})


def build_comm_report(events: Iterable[OpEvent], *, rank: int, world_size: int, backend: str,
                      local_params: int, local_param_bytes: int) -> CommReport:
    """Aggregate the collective events of a run into a :class:`CommReport`."""
    rows: dict[tuple, list[int]] = {}
    modules: dict[str, int] = {}
    for event in events:
        comm = event.comm
        if comm is None:
            continue
        key = (event.op, comm.kind.value, comm.algorithm, comm.group_size, comm.ranks,
               event.module, event.phase.value, comm.source)
        totals = rows.setdefault(key, [0, 0, 0])
        totals[0] += 1
        totals[1] += comm.payload_bytes
        totals[2] += comm.wire_bytes
        name: str | None = event.module
        while name is not None:
            modules[name] = modules.get(name, 0) + comm.wire_bytes
            name = parent_name(name)
    table = tuple(CommRow(op, kind, algorithm, size, ranks, module, phase, calls, payload, wire,
                          source)
                  for (op, kind, algorithm, size, ranks, module, phase, source),
                  (calls, payload, wire) in rows.items())
    return CommReport(rank, world_size, backend, local_params, local_param_bytes, table,
                      modules)
