"""Beyond one process: collectives counted per rank, simulated worlds, and every rank's report.

- Inside a ``torchrun`` job, ``flopwise.profile`` is unchanged and adds ``report.comm`` (a
  :class:`CommReport`): each collective's payload, group and bytes on the wire, per module and
  phase; :func:`gather` brings every rank's report to rank 0.
- :func:`simulate` runs the user's own parallelisation code for a world of any size in one
  process, on torch's fake process group and fake tensors.

See docs/distributed.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["simulate", "gather", "RankTable", "CommReport", "CommRow"]

_LAZY = {
    "simulate": "flopwise.distributed.world",
    "gather": "flopwise.distributed.ranks",
    "RankTable": "flopwise.distributed.ranks",
    "CommReport": "flopwise.distributed.report",
    "CommRow": "flopwise.distributed.report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flopwise.distributed' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
