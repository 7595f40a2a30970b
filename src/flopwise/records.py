"""The plain records a report is read through: totals, one module's row, one op's row, the run.

They hold only numbers and strings and import nothing heavy, so a report read back from JSON
(:mod:`flopwise.render.view`) fills the same records a live :class:`~flopwise.Report` does,
without torch.

>>> Totals(macs=24, flops=48, bytes_read=128, bytes_written=24).bytes_moved
152
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Totals", "ModuleRow", "OpRow", "RunInfo"]


@dataclass(frozen=True)
class Totals:
    """MACs, FLOPs (under the report's convention) and bytes moved."""

    macs: int
    flops: int
    bytes_read: int
    bytes_written: int
    params: int = 0
    trainable_params: int = 0

    @property
    def bytes_moved(self) -> int:
        return self.bytes_read + self.bytes_written


@dataclass(frozen=True)
class ModuleRow:
    """One module's line: inclusive costs (all phases that ran), self costs, parameters."""

    name: str
    type: str
    depth: int
    calls: int
    params: int
    trainable_params: int
    macs: int
    flops: int
    self_macs: int
    self_flops: int
    bytes_read: int
    bytes_written: int
    output_bytes: int
    phase_flops: dict[str, int] = field(default_factory=dict)
    ran: bool = False

    @property
    def called(self) -> bool:
        """Whether this module, or a module inside it, ran (a ModuleList itself never runs)."""
        return self.ran


@dataclass(frozen=True)
class OpRow:
    """One operator overload aggregated over the run."""

    op: str
    status: str
    calls: int
    macs: int
    flops: int
    bytes_read: int
    bytes_written: int


@dataclass(frozen=True)
class RunInfo:
    """How the run was made: mode (real/meta/fake), device, inputs, versions."""

    model: str
    mode: str
    device: str
    inputs: tuple[tuple[int, ...], ...]
    backward: bool
    optimizer: str | None
    torch_version: str
    flopwise_version: str
    input_dtypes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The ``run`` object of the JSON form."""
        return {"model": self.model, "mode": self.mode, "device": self.device,
                "inputs": [list(shape) for shape in self.inputs], "backward": self.backward,
                "optimizer": self.optimizer, "torch": self.torch_version,
                "flopwise": self.flopwise_version}
