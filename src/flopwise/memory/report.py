"""The memory part of a profile: :class:`MemoryReport`, the report section ``report.memory``.

What ``peak_bytes`` adds up, for the run that was profiled:

- forward only (inference): parameters + buffers + inputs + ``activation_peak_bytes``;
- with backward (a training step): parameters + buffers + inputs + optimizer state + the most
  the run held at once over forward and backward (activations, the tensors saved for backward,
  gradients as they are produced, the forward's outputs).

Parameter gradients are produced during backward, so they are inside the backward peak;
``grads_bytes`` states their size on its own. Optimizer state is sized per parameter (see
:mod:`flopwise.memory.states`) and assumed to exist before the step, as from the second step on.

>>> import torch, flopwise
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> memory = flopwise.profile(model, torch.randn(5, 8), backward=True, memory=True).memory
>>> memory.params_bytes, memory.saved_for_backward_bytes      # 212 params; x and relu(...)
(848, 480)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from flopwise.memory.states import StateMemory, state_memory
from flopwise.memory.tracker import MemoryTrace, storage_of
from flopwise.tree import parent_name

if TYPE_CHECKING:
    import torch

__all__ = ["BatchFit", "MemoryReport", "ModuleMemory", "build_memory_report"]


@dataclass(frozen=True)
class BatchFit:
    """The affine fit of peak memory against batch size, and the largest batch that fits
    (:func:`flopwise.memory.fit.largest_batch`).

    ``batch`` is 0 when not even one sample fits. ``bytes_per_sample`` is rounded up, so the
    prediction errs on the safe side.
    """

    device: str
    memory_bytes: int
    usable_bytes: int
    batches: tuple[int, int]
    peaks_bytes: tuple[int, int]
    fixed_bytes: int
    bytes_per_sample: int
    batch: int
    training: bool = False

    def peak_at(self, batch: int) -> int:
        """The fitted peak at ``batch`` samples, in bytes."""
        return self.fixed_bytes + batch * self.bytes_per_sample

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "memory_bytes": self.memory_bytes,
            "usable_bytes": self.usable_bytes,
            "batches": list(self.batches),
            "peaks_bytes": list(self.peaks_bytes),
            "fixed_bytes": self.fixed_bytes,
            "bytes_per_sample": self.bytes_per_sample,
            "batch": self.batch,
            "training": self.training,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BatchFit:
        """The inverse of :meth:`to_dict`."""
        low, high = data["batches"]
        low_peak, high_peak = data["peaks_bytes"]
        return cls(device=data["device"], memory_bytes=data["memory_bytes"],
                   usable_bytes=data["usable_bytes"], batches=(low, high),
                   peaks_bytes=(low_peak, high_peak), fixed_bytes=data["fixed_bytes"],
                   bytes_per_sample=data["bytes_per_sample"], batch=data["batch"],
                   training=bool(data.get("training", False)))


@dataclass(frozen=True)
class ModuleMemory:
    """One module's memory figures (bytes).

    ``created_bytes``: storages its own forward ops created (children excluded);
    ``saved_for_backward_bytes``: storages autograd saved while it was the innermost module
    (each storage once, in the first module that saved it); ``peak_live_bytes``: the most
    inference-live activation bytes after any forward op inside it (children included).
    """

    name: str
    created_bytes: int
    saved_for_backward_bytes: int
    peak_live_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created_bytes": self.created_bytes,
                "saved_for_backward_bytes": self.saved_for_backward_bytes,
                "peak_live_bytes": self.peak_live_bytes}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleMemory:
        return cls(data["name"], data["created_bytes"], data["saved_for_backward_bytes"],
                   data["peak_live_bytes"])


@dataclass(frozen=True)
class MemoryReport:
    """Memory of one profile run; every figure is an int number of bytes."""

    KEY: ClassVar[str] = "memory"

    training: bool
    params_bytes: int
    buffers_bytes: int
    inputs_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    activation_peak_bytes: int
    forward_peak_bytes: int
    backward_peak_bytes: int
    saved_for_backward_bytes: int
    saved_tensors: int
    state: StateMemory
    modules: tuple[ModuleMemory, ...] = ()
    notes: tuple[str, ...] = ()
    fit: BatchFit | None = None

    @property
    def peak_bytes(self) -> int:
        """The run's peak: see the module's docstring for what it adds up."""
        fixed = self.params_bytes + self.buffers_bytes + self.inputs_bytes
        if not self.training:
            return fixed + self.activation_peak_bytes
        return (fixed + self.optimizer_bytes
                + max(self.forward_peak_bytes, self.backward_peak_bytes))

    def module(self, name: str) -> ModuleMemory:
        """The figures of one module by name (root: ``""``)."""
        for entry in self.modules:
            if entry.name == name:
                return entry
        raise KeyError(name)

    def with_fit(self, fit: BatchFit) -> MemoryReport:
        """This report with the largest batch that fits a device attached."""
        return MemoryReport(**{**self.__dict__, "fit": fit})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "training": self.training,
            "params_bytes": self.params_bytes,
            "buffers_bytes": self.buffers_bytes,
            "inputs_bytes": self.inputs_bytes,
            "grads_bytes": self.grads_bytes,
            "optimizer_bytes": self.optimizer_bytes,
            "activation_peak_bytes": self.activation_peak_bytes,
            "forward_peak_bytes": self.forward_peak_bytes,
            "backward_peak_bytes": self.backward_peak_bytes,
            "saved_for_backward_bytes": self.saved_for_backward_bytes,
            "saved_tensors": self.saved_tensors,
            "peak_bytes": self.peak_bytes,
            "state": self.state.to_dict(),
            "modules": [entry.to_dict() for entry in self.modules],
            "notes": list(self.notes),
        }
        if self.fit is not None:
            data["largest_batch"] = self.fit.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryReport:
        """The inverse of :meth:`to_dict` (``peak_bytes`` is derived, not read)."""
        fit = data.get("largest_batch")
        return cls(
            training=bool(data["training"]), params_bytes=data["params_bytes"],
            buffers_bytes=data["buffers_bytes"], inputs_bytes=data["inputs_bytes"],
            grads_bytes=data["grads_bytes"], optimizer_bytes=data["optimizer_bytes"],
            activation_peak_bytes=data["activation_peak_bytes"],
            forward_peak_bytes=data["forward_peak_bytes"],
            backward_peak_bytes=data["backward_peak_bytes"],
            saved_for_backward_bytes=data["saved_for_backward_bytes"],
            saved_tensors=data["saved_tensors"], state=StateMemory.from_dict(data["state"]),
            modules=tuple(ModuleMemory.from_dict(entry) for entry in data.get("modules", ())),
            notes=tuple(data.get("notes", ())),
            fit=BatchFit.from_dict(fit) if fit is not None else None,
        )


def _inclusive_peaks(names: Sequence[str], own: Mapping[str, int]) -> dict[str, int]:
    """The most live bytes at any op of a module or of a module inside it."""
    known = set(names)
    peaks = {name: own.get(name, 0) for name in names}
    for name, value in own.items():
        current: str | None = name
        while current is not None:
            if current in known and value > peaks[current]:
                peaks[current] = value
            current = parent_name(current)
    return peaks


def _unique_bytes(tensors: Iterable[Any]) -> int:
    import torch

    sizes: dict[int, int] = {}
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor):
            storage = storage_of(tensor)
            if storage is None:          # no storage of its own: its elements
                sizes[id(tensor)] = tensor.numel() * tensor.element_size()
            else:
                sizes[storage._cdata] = storage.nbytes()
    return sum(sizes.values())


def build_memory_report(trace: MemoryTrace, model: Any, inputs: Iterable[Any], *,
                        training: bool, optimizer: torch.optim.Optimizer | None,
                        names: Sequence[str]) -> MemoryReport:
    """Combine the tracker's trace with the model's state into a :class:`MemoryReport`.

    ``inputs`` are the tensors the model was called with; ``names`` the module names in tree
    order (``""`` first).
    """
    import torch

    from flopwise.memory.states import measured_optimizer_state

    notes: list[str] = []
    module = model if isinstance(model, torch.nn.Module) else None
    params = list(module.parameters()) if module is not None else []
    buffers = list(module.buffers()) if module is not None else []
    state = state_memory(params, None, training=training)
    optimizer_bytes = 0
    if training and optimizer is not None:
        by_state = measured_optimizer_state(optimizer)
        optimizer_bytes = sum(by_state.values())
        state = StateMemory(**{**state.__dict__, "optimizer": type(optimizer).__name__,
                               "optimizer_bytes": optimizer_bytes,
                               "optimizer_bytes_by_state": by_state})
    if not trace.hooks_available:
        notes.append("saved-tensor hooks were disabled by the caller "
                     "(torch.autograd.graph.disable_saved_tensors_hooks): saved-for-backward "
                     "bytes are not known and the activation peak includes autograd's references")
    created, saved = trace.created_bytes, trace.saved_bytes
    peaks = _inclusive_peaks(names, trace.peak_live_bytes)
    modules = tuple(ModuleMemory(name, created.get(name, 0), saved.get(name, 0), peaks[name])
                    for name in names)
    return MemoryReport(
        training=training,
        params_bytes=state.params_bytes,
        buffers_bytes=_unique_bytes(buffers),
        inputs_bytes=_unique_bytes(inputs),
        grads_bytes=state.grads_bytes,
        optimizer_bytes=optimizer_bytes,
        activation_peak_bytes=trace.activation_peak_bytes,
        forward_peak_bytes=trace.forward_peak_bytes,
        backward_peak_bytes=trace.backward_peak_bytes,
        saved_for_backward_bytes=trace.saved_for_backward_bytes,
        saved_tensors=trace.saved_tensors,
        state=state,
        modules=modules,
        notes=tuple(notes),
    )

