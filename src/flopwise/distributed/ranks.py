"""``gather``: every rank's report on rank 0, as one per-rank table.

Each rank sends its report's JSON form (``report.to_dict()``) with
``torch.distributed.gather_object``; rank 0 gets a :class:`RankTable`: per rank its FLOPs,
bytes sent and local parameters, and the imbalance of each (the largest over the mean: 1.0 is
perfectly balanced; pipeline stages or MoE experts of uneven size show here).

>>> table = RankTable(({"total": {"flops": 300}, "comm": {"comm_bytes": 10, "local_params": 5}},
...                    {"total": {"flops": 100}, "comm": {"comm_bytes": 10, "local_params": 5}}))
>>> [row.flops for row in table.rows], table.imbalance("flops")   # 300 / mean(300, 100)
([300, 100], 1.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flopwise.errors import UsageError
from flopwise.saved import ReportLike, as_dict

__all__ = ["gather", "RankRow", "RankTable"]


@dataclass(frozen=True)
class RankRow:
    """One rank's figures: FLOPs (the report's convention), bytes sent, local parameters."""

    rank: int
    flops: int
    comm_bytes: int
    local_params: int


@dataclass(frozen=True)
class RankTable:
    """Every rank's report (JSON form, in rank order) and the per-rank figures."""

    reports: tuple[Mapping[str, Any], ...]

    @property
    def rows(self) -> list[RankRow]:
        rows = []
        for rank, data in enumerate(self.reports):
            comm = data.get("comm") or {}
            rows.append(RankRow(rank, int(data["total"]["flops"]), int(comm.get("comm_bytes", 0)),
                                int(comm.get("local_params", data["total"].get("params", 0)))))
        return rows

    def imbalance(self, field: str) -> float:
        """Largest over mean of ``flops``, ``comm_bytes`` or ``local_params`` (1.0: balanced)."""
        if field not in ("flops", "comm_bytes", "local_params"):
            raise UsageError(f"imbalance of {field!r}: choose flops, comm_bytes or local_params")
        values = [getattr(row, field) for row in self.rows]
        mean = sum(values) / len(values)
        return max(values) / mean if mean else 1.0


def gather(report: ReportLike, dst: int = 0) -> RankTable | None:
    """Collect every rank's report on rank ``dst``; a collective: call it on every rank.

    Returns the :class:`RankTable` on ``dst`` and ``None`` on the other ranks. Raises
    :class:`~flopwise.UsageError` when ``torch.distributed`` is not initialised.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise UsageError("gather: torch.distributed is not initialised; call it inside the job "
                         "(torchrun) after init_process_group, on every rank")
    data = as_dict(report)
    received: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == dst else None
    dist.gather_object(data, received, dst=dst)
    if received is None:
        return None
    return RankTable(tuple(received))
