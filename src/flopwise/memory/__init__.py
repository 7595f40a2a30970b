"""Memory: parameters, gradients and optimizer state; activations from tensor lifetimes; what
autograd saves for backward; the largest batch that fits a device.

``flopwise.profile`` fills ``report.memory`` (a :class:`MemoryReport`, also in the JSON under
``memory``); the pieces are usable on their own:

>>> import torch
>>> from flopwise.memory import state_memory
>>> state_memory(torch.nn.Linear(4, 4), "sgd").total_bytes     # 20 params: weights + grads
160

See ``docs/memory.md`` for what is counted and how lifetimes are simulated.
"""

from __future__ import annotations

from flopwise.memory.fit import BatchFit, fit_batch, largest_batch, with_largest_batch
from flopwise.memory.report import MemoryReport, ModuleMemory, build_memory_report
from flopwise.memory.states import (
    STEP_BYTES,
    OptimizerKind,
    Precision,
    StateMemory,
    measured_optimizer_state,
    optimizer_state_bytes,
    state_memory,
)
from flopwise.memory.tracker import MemoryTrace, MemoryTracker

__all__ = [
    "STEP_BYTES",
    "BatchFit",
    "MemoryReport",
    "MemoryTrace",
    "MemoryTracker",
    "ModuleMemory",
    "OptimizerKind",
    "Precision",
    "StateMemory",
    "build_memory_report",
    "fit_batch",
    "largest_batch",
    "with_largest_batch",
    "measured_optimizer_state",
    "optimizer_state_bytes",
    "state_memory",
]
