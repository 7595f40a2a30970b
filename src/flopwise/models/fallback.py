"""When the default device or dtype cannot run a model: what to try next, and why.

The default device is ``meta`` (shapes only, no weights). Some models' own code needs values
(``Tensor.item()``, ``nonzero``, data-dependent shapes, tensors the code makes on the CPU);
they are rebuilt on the CPU with real (cheap) weights when those fit in half the available
memory, and run under a :class:`RetryGuard` that stops the run with one line before it takes
more than that (the activations counted too). Some kernels exist
in half precision only (grouped GEMMs of mixture-of-experts layers); those models are rebuilt
in the dtype their config declares, or bfloat16. Each retry comes with one line saying what happened and why.

>>> needs_values(RuntimeError("Tensor.item() cannot be called on meta tensors"))
True
>>> needs_values(RuntimeError("Tensor on device meta is not on the expected device cpu!"))
True
>>> needs_half(RuntimeError("Expected mat_a to be BFloat16 or supported Float16 matrix, got torch.float32"))
True
>>> model_bytes_text(3 * 2**30)
'3.0 GiB'
>>> out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 GiB"))
True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from flopwise.errors import ModelRunError

if TYPE_CHECKING:
    import torch

    from flopwise.capture.events import OpEvent
    from flopwise.models.loaded import LoadedModel

__all__ = ["Attempt", "RetryGuard", "next_attempt", "needs_values", "needs_half", "out_of_memory",
           "model_bytes", "retry_bytes", "available_bytes", "resident_bytes",
           "fallback_budget_bytes", "model_bytes_text"]

_VALUE_ERRORS = re.compile(
    r"meta tensor|on meta|device type meta|'meta'|data-dependent|data dependent|"
    r"unbacked symint|cannot copy out of meta|item\(\)|register_meta|nonzero|"
    r"device (meta|cpu) is not on the expected device|meta and cpu|cpu and meta|"
    r"to be on same device as", re.IGNORECASE)
_MEMORY_ERRORS = re.compile(r"can't allocate memory|out of memory|cannot allocate memory",
                            re.IGNORECASE)
_HALF_ERRORS = re.compile(r"(bfloat16|float16|half).*float32|float32.*(bfloat16|float16)",
                          re.IGNORECASE)
# the model must leave this share of the free memory for activations and the run itself
_MEMORY_SHARE = 0.5
# an optional lower cap on the retry's bytes (set by batch sweeps that share a machine)
_CAP_ENV = "FLOPWISE_FALLBACK_MAX_BYTES"
# over budget, the allocator's free pages are handed back at most once per this much growth
_TRIM_STEP_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Attempt:
    """A device and model dtype to build and run with, and why (empty for the user's own).

    A CPU retry also carries what it may use (``budget_bytes``), what its weights take
    (``weights_bytes``, :func:`retry_bytes`) and the error that made it (``cause``)."""

    device: str
    model_dtype: str | None = None
    reason: str = ""
    budget_bytes: int = 0
    weights_bytes: int = 0
    cause: str = ""


def needs_values(error: BaseException) -> bool:
    """Whether ``error`` says the model's code needed values that meta tensors do not have."""
    return bool(_VALUE_ERRORS.search(f"{type(error).__name__}: {error}"))


def needs_half(error: BaseException) -> bool:
    """Whether ``error`` says a kernel takes half precision only and got float32."""
    return bool(_HALF_ERRORS.search(str(error).splitlines()[0] if str(error) else ""))


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` says an allocation failed (``MemoryError``, the CPU allocator's)."""
    return isinstance(error, MemoryError) or bool(_MEMORY_ERRORS.search(str(error)))


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's parameters and buffers (read from shapes: works on meta)."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def _lookup_only(model: torch.nn.Module) -> set[int]:
    """Ids of the parameters that only embedding tables hold (tied to no other module)."""
    import torch

    holders: dict[int, list[bool]] = {}
    for module in model.modules():
        for param in module._parameters.values():
            if param is not None:
                holders.setdefault(id(param), []).append(isinstance(module, torch.nn.Embedding))
    return {key for key, lookups in holders.items() if all(lookups)}


def retry_bytes(loaded: LoadedModel, backward: bool = False) -> int:
    """Memory the CPU retry needs for the model itself (read from the meta build).

    An ``hf:`` model is rebuilt with cheap weights (a few values per parameter, see
    :func:`flopwise.models.hf.cheap_weights`): its buffers, and room for the largest weight an
    op copies whole (an embedding lookup reads rows of its table and copies none of it, so a
    table tied to no other layer does not count), plus every gradient with ``backward`` (a
    gradient is dense). Other models hold all their weights (and their gradients).

    >>> import torch
    >>> from flopwise.models.loaded import LoadedModel
    >>> with torch.device("meta"):
    ...     model = torch.nn.Sequential(torch.nn.Embedding(1000, 64), torch.nn.Linear(64, 10))
    >>> retry_bytes(LoadedModel("hf:toy", "hf", model))   # the 10 × 64 float32 weight
    2560
    """
    params = list(loaded.model.parameters())
    grads = sum(p.numel() * p.element_size() for p in params if p.requires_grad) if backward else 0
    if loaded.source != "hf":
        return model_bytes(loaded.model) + grads
    lookups = _lookup_only(loaded.model)
    sizes = [p.numel() * p.element_size() for p in params if id(p) not in lookups]
    buffers = sum(b.numel() * b.element_size() for b in loaded.model.buffers())
    # NB: activations are not known before the run; RetryGuard adds them once the shape-only
    # run has gone as far as it can, and watches the rest
    return buffers + max(sizes, default=0) + grads


def available_bytes() -> int:
    """Memory the system says is available now (``MemAvailable``; physical memory elsewhere)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def resident_bytes() -> int:
    """This process's resident memory now (``/proc/self/statm``; 0 where there is none)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def fallback_budget_bytes() -> int:
    """Bytes the CPU retry may take (weights and activations): half the available memory, or
    less if capped.

    ``FLOPWISE_FALLBACK_MAX_BYTES`` lowers the cap (a sweep sharing a machine sets it).
    """
    budget = int(_MEMORY_SHARE * available_bytes())
    cap = os.environ.get(_CAP_ENV, "").strip()
    return min(budget, int(cap)) if cap.isdigit() else budget


def model_bytes_text(size: int) -> str:
    """A byte count in GiB or MiB, for messages."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def _first_line(error: BaseException) -> str:
    """The error's type and first sentence."""
    lines = str(error).strip().splitlines()
    sentence = lines[0].split(". ")[0].rstrip(".") if lines else ""
    return f"{type(error).__name__}: {sentence}" if sentence else type(error).__name__


def _refusal(spec: str, cause: str, what: str, budget: int) -> ModelRunError:
    """The one line for a CPU retry that does not fit: the size, and ``--device``."""
    return ModelRunError(
        f"{spec} needs real values ({cause}), but {what} do not fit in the "
        f"{model_bytes_text(budget)} the CPU retry may use; run it on a larger machine with "
        "--device cuda (or cpu)")


def next_attempt(error: BaseException, loaded: LoadedModel, attempt: Attempt,
                 backward: bool = False) -> Attempt | None:
    """What to try after ``attempt`` failed with ``error`` on ``loaded``; ``None``: nothing.

    Meta → CPU when the model needs values, if its weights (:func:`retry_bytes`, with the
    gradients when the run has a ``backward`` pass) fit in half the available memory (else
    :class:`~flopwise.ModelRunError` names the size and ``--device``; also when the CPU retry
    itself ran out of memory). A float32 model whose kernel wants half precision → the
    config's declared dtype, or bfloat16, when the user chose no ``--model-dtype``.
    """
    if attempt.budget_bytes and out_of_memory(error):
        raise _refusal(loaded.spec, attempt.cause,
                       f"its weights and activations (an allocation failed: "
                       f"{_first_line(error)})", attempt.budget_bytes) from error
    if attempt.device == "meta" and needs_values(error):
        size, budget = retry_bytes(loaded, backward), fallback_budget_bytes()
        if size > budget:
            raise _refusal(loaded.spec, _first_line(error),
                           f"its weights ({model_bytes_text(size)} on the CPU)", budget)
        return Attempt("cpu", attempt.model_dtype,
                       f"the model's code needs real values on the meta device "
                       f"({_first_line(error)}); rebuilt on the CPU with cheap real weights "
                       f"({model_bytes_text(size)}), running for real",
                       budget, size, _first_line(error))
    if attempt.model_dtype is None and needs_half(error):
        declared = loaded.declared_dtype not in (None, "float32")
        dtype = loaded.declared_dtype if declared and loaded.declared_dtype else "bfloat16"
        why = "the dtype its config declares" if declared else "it has no float32 path"
        return replace(attempt, model_dtype=dtype,
                       reason=f"a kernel runs in half precision only ({_first_line(error)}); "
                              f"rebuilt in {dtype} ({why})")
    return None


class RetryGuard:
    """Watches the ops of a CPU retry (an :class:`~flopwise.capture.mode.Observer`) and stops
    it with :class:`~flopwise.ModelRunError` before it outgrows ``attempt.budget_bytes``.

    Made before the retry's model is built. A real CPU model is first counted on shape-only
    shadows, which stop where the meta run stopped; the guard simulates their memory and,
    at the first op on real tensors, refuses the run when the weights plus the activations
    seen so far (what an inference forward holds; with ``backward``, what the graph saves too)
    exceed the budget. From then on it refuses when the process's resident memory has grown
    by more than the budget since the guard was made. Inactive for any other attempt.

    >>> guard = RetryGuard(Attempt("cpu", budget_bytes=2**30, weights_bytes=2**20), "hf:toy")
    >>> guard.active
    True
    """

    def __init__(self, attempt: Attempt, spec: str, backward: bool = False) -> None:
        self._attempt, self._spec, self._backward = attempt, spec, backward
        self.active = attempt.budget_bytes > 0
        # the baseline without the allocator's free pages, as every later reading over budget
        self._start = _trimmed_resident_bytes() if self.active else 0
        self._shadow: Any = None
        self._real = False
        self._trimmed = 0

    def on_op(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any,
              event: OpEvent) -> None:
        """Check the memory after ``op`` (see the class's docstring)."""
        if not self.active:
            return
        if not self._real:
            real = _first_tensor_device(out)
            if real is None or real == "meta":
                self._shadows().on_op(op, args, kwargs, out, event)
                return
            self._real = True
            self._check_estimate()
        # NB: resident memory also counts what torch loads lazily and what the C allocator
        # keeps after a free; it errs towards refusing early, never towards the system's kill
        resident = resident_bytes()
        if resident - self._start > self._attempt.budget_bytes \
                and resident - self._trimmed > _TRIM_STEP_BYTES:
            self._trimmed = resident = _trimmed_resident_bytes()
        grown = resident - self._start
        if self._start and grown > self._attempt.budget_bytes:
            raise _refusal(self._spec, self._attempt.cause,
                           f"its weights and activations (more than "
                           f"{model_bytes_text(grown)} by {op} in "
                           f"{event.module or 'the model'})", self._attempt.budget_bytes)

    def _shadows(self) -> Any:
        if self._shadow is None:
            from flopwise.memory.tracker import MemoryTracker

            self._shadow = MemoryTracker()
        return self._shadow

    def _check_estimate(self) -> None:
        """Refuse before anything is computed when the shape-only run already says too much."""
        if self._shadow is None:
            return
        trace = self._shadow.trace()
        # NB: the shadows stop where the model first needs values, so this counts the
        # activations up to there; the resident-memory watch covers the rest of the run
        activations = trace.forward_peak_bytes if self._backward else trace.activation_peak_bytes
        needed = self._attempt.weights_bytes + activations
        if needed > self._attempt.budget_bytes:
            raise _refusal(self._spec, self._attempt.cause,
                           f"its weights and activations (at least "
                           f"{model_bytes_text(needed)})", self._attempt.budget_bytes)


def _trimmed_resident_bytes() -> int:
    """Resident memory after the C allocator hands its free pages back to the system (glibc's
    ``malloc_trim``; elsewhere as it is): freed activations that glibc keeps for reuse are not
    the run's memory."""
    import contextlib
    import ctypes
    import ctypes.util

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    return resident_bytes()


def _first_tensor_device(value: Any) -> str | None:
    """The device type of the first tensor in ``value`` (any nesting), or ``None``."""
    import torch
    from torch.utils._pytree import tree_leaves

    for leaf in tree_leaves(value):
        if isinstance(leaf, torch.Tensor):
            storage = leaf.untyped_storage() if leaf.layout == torch.strided else None
            return storage.device.type if storage is not None else leaf.device.type
    return None
