"""The dispatch mode that sees every aten operator and records one :class:`OpEvent` per call."""

from __future__ import annotations

import sys
from collections import Counter
from types import FrameType
from typing import Any, Protocol

import torch
from torch._decomp import decomposition_table
from torch.utils._python_dispatch import TorchDispatchMode

from flopwise.capture.events import OpEvent, Status
from flopwise.capture.fast_meta import FAST_META, SHARED, all_meta
from flopwise.capture.scope import ModuleScope
from flopwise.formulas.registry import Entry, EntryKind, FormulaRegistry
from flopwise.formulas.spec import ZERO_COST, Cost, TensorSpec

__all__ = ["CountingMode", "Observer", "to_spec"]


class Observer(Protocol):
    """Something that watches every counted op with its real arguments (e.g. the memory
    simulation). It must not change the tensors it sees."""

    def on_op(self, op: str, args: tuple, kwargs: dict, out: Any, event: OpEvent) -> None: ...

_DTYPES: dict[torch.dtype, tuple[str, int]] = {}


def _dtype_info(dtype: torch.dtype) -> tuple[str, int]:
    info = _DTYPES.get(dtype)
    if info is None:
        info = _DTYPES[dtype] = (str(dtype).removeprefix("torch."), dtype.itemsize)
    return info


def to_spec(value: Any) -> Any:
    """Tensors become :class:`TensorSpec` (inside lists and tuples too); other values stay."""
    return _Converter().convert(value)


class _Converter:
    """Turns tensors into specs and adds up their bytes in the same pass (the hot path)."""

    __slots__ = ("nbytes", "dtype", "shape")

    def __init__(self) -> None:
        self.nbytes = 0
        self.dtype = "none"   # the first floating-point dtype seen
        self.shape: tuple[int, ...] | None = None   # the first tensor's shape

    def convert(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            name, itemsize = _dtype_info(value.dtype)
            self.nbytes += value.numel() * itemsize
            if self.dtype == "none" and value.is_floating_point():
                self.dtype = name
            shape = tuple(value.shape)
            if self.shape is None:
                self.shape = shape
            return TensorSpec(shape, name, itemsize)
        kind = type(value)
        if kind is tuple or kind is list:
            if not value:
                return value
            items = [self.convert(item) for item in value]
            return items if kind is list else tuple(items)
        if kind is dict:
            return {key: self.convert(item) for key, item in value.items()}
        return value


def _nbytes(value: Any) -> int:
    if isinstance(value, TensorSpec):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.numel() * value.dtype.itemsize
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 0


def _is_view(func: torch._ops.OpOverload) -> bool:
    """True when every output aliases an input without writing it (per the op's schema)."""
    returns = func._schema.returns
    return bool(returns) and all(
        r.alias_info is not None and not r.alias_info.is_write for r in returns
    )


#: The ``types`` of ops seen without a DTensor (a class that is not one never becomes one).
_NO_DTENSOR: set[Any] = set()


def _has_dtensor(types: Any) -> bool:
    """Whether a DTensor takes part in the op (only once torch.distributed.tensor is loaded)."""
    if types in _NO_DTENSOR:
        return False
    module = sys.modules.get("torch.distributed.tensor")
    dtensor = getattr(module, "DTensor", None)
    if dtensor is not None and any(issubclass(t, dtensor) for t in types):
        return True
    _NO_DTENSOR.add(types)
    return False


def _in_sharding_propagation() -> bool:
    """Whether DTensor is running an op on fake global-shape tensors only to learn its output's
    shape (its sharding propagation): nothing runs on this rank, so nothing is counted."""
    # NB: recognises torch's private ShardingPropagator method by its code object on the stack
    from torch.distributed.tensor._sharding_prop import ShardingPropagator

    code = ShardingPropagator._propagate_tensor_meta_non_cached.__code__
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        if frame.f_code is code:
            return True
        frame = frame.f_back
    return False


#: What one op call recorded: (entry, status, cost, dtype, in_shape, out_shape, formula error,
#: collective); kept in the metadata cache's slot of the call when it has no collective.
_Record = tuple[Any, ...]

_VIEW_ENTRY = Entry("(view)", EntryKind.ZERO, "view", None, "output aliases an input", False)


class CountingMode(TorchDispatchMode):
    """Records an event for every aten op call; never changes what the op computes."""

    def __init__(self, registry: FormulaRegistry, scope: ModuleScope,
                 observers: tuple[Observer, ...] = ()) -> None:
        super().__init__()
        self.observers = observers
        self.registry = registry
        self.scope = scope
        self.events: list[OpEvent] = []
        self.decomposed: Counter[str] = Counter()
        self.formula_errors: dict[str, str] = {}
        #: id(op) -> (op, entry, name, cost-free view); the op is kept so its id stays its own
        self._entries: dict[int, tuple[Any, Entry | None, str, bool]] = {}
        self._via: list[str] = []
        self._saw_dtensor = False
        self._meta = SHARED

    def _entry(self, func: Any) -> tuple[Any, Entry | None, str, bool]:
        """What the registry says of ``func``, looked up once per mode (by the op's id: torch's
        ``OpOverload.__hash__`` is Python code)."""
        info = self._entries.get(id(func))
        if info is None:
            name = str(func)
            entry = self.registry.lookup(name)
            if entry is None and _is_view(func):
                entry = _VIEW_ENTRY
            # a view (or another cost-free op that moves no data): its record is the same
            # whatever the arguments, so it needs no metadata key
            free = entry is not None and entry.kind is EntryKind.ZERO and not entry.moves_data
            info = self._entries[id(func)] = (func, entry, name, free)
        return info

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        if types not in _NO_DTENSOR and _has_dtensor(types):
            # DTensor desugars the op into what this rank runs (local ops and collectives),
            # which come back through this mode: count those, not the global op
            self._saw_dtensor = True
            return NotImplemented
        if kwargs is None:
            kwargs = {}
        if self._saw_dtensor and _in_sharding_propagation():
            return func(*args, **kwargs)
        _, entry, name, free = self._entry(func)
        meta = self._meta
        if entry is None:
            result = self._decompose(func, name, args, kwargs)
            if result is not NotImplemented:
                return result
        elif free:
            out = meta.run_in(None, func, args, kwargs)
            self._append(name, (entry, Status.ZERO, ZERO_COST, "none", (), (), None, None))
            for observer in self.observers:
                observer.on_op(name, args, kwargs, out, self.events[-1])
            return out
        slot = meta.slot(func, args, kwargs)
        record = slot.record if slot is not None else None
        if record is not None and record[0] is entry:
            # this op with these arguments' metadata was counted before: the same record
            out = meta.run_in(slot, func, args, kwargs)
        else:
            fast = FAST_META.get(func)
            if fast is not None and all_meta(args, kwargs):
                out = fast(*args, **kwargs)
                if slot is not None:
                    meta.remember(slot, func, out, args)
            else:
                out = meta.run_in(slot, func, args, kwargs)
            record = self._record(entry, args, kwargs, out)
            if slot is not None and record[-1] is None:
                slot.record = record
        self._append(name, record)
        for observer in self.observers:
            observer.on_op(name, args, kwargs, out, self.events[-1])
        return out

    def _decompose(self, func: Any, name: str, args: tuple, kwargs: dict) -> Any:
        """Run ``func`` through its decomposition under this mode, so its parts are counted."""
        decomposition = decomposition_table.get(func)
        recorded = len(self.events)
        self._via.append(name)
        try:
            with self:
                result = func.decompose(*args, **kwargs)
                if result is NotImplemented and decomposition is not None:
                    result = decomposition(*args, **kwargs)
        except Exception:  # NB: a decomposition that cannot run here; the op itself runs instead
            del self.events[recorded:]
            result = NotImplemented
        finally:
            self._via.pop()
        if result is not NotImplemented:
            self.decomposed[name] += 1
        return result

    def _record(self, entry: Entry | None, args: tuple, kwargs: dict, out: Any) -> _Record:
        """What an op call costs, as a function of its arguments' and outputs' metadata only
        (so a call with the same metadata can reuse it)."""
        if entry is not None and entry.kind is EntryKind.ZERO:
            if entry.moves_data:
                cost = Cost(0, 0, 0, 0, _nbytes(args) + _nbytes(kwargs), _nbytes(out))
            else:
                cost = ZERO_COST
            return (entry, Status.ZERO, cost, "none", (), (), None, None)
        inputs, outputs = _Converter(), _Converter()
        arg_specs = inputs.convert(args)
        kwarg_specs = inputs.convert(kwargs) if kwargs else kwargs
        result = outputs.convert(out)
        status, error = Status.COUNTED, None
        if entry is None:
            status, cost = Status.UNSUPPORTED, Cost()
        else:
            try:
                cost = entry.formula(result, *arg_specs, **kwarg_specs)  # type: ignore[misc]
            except Exception as exc:  # a formula that cannot read these arguments
                status, cost, error = Status.UNSUPPORTED, Cost(), f"{type(exc).__name__}: {exc}"
        if cost.bytes_read is None or cost.bytes_written is None:
            cost = Cost(
                cost.macs, cost.dot_outputs, cost.bias_adds, cost.elementwise,
                inputs.nbytes if cost.bytes_read is None else cost.bytes_read,
                outputs.nbytes if cost.bytes_written is None else cost.bytes_written,
            )
        dtype = inputs.dtype if inputs.dtype != "none" else outputs.dtype
        return (entry, status, cost, dtype, inputs.shape or (), outputs.shape or (), error,
                getattr(cost, "collective", None))

    def _append(self, op: str, record: _Record) -> None:
        _, status, cost, dtype, in_shape, out_shape, error, comm = record
        if error is not None:
            self.formula_errors.setdefault(op, error)
        scope = self.scope
        self.events.append(OpEvent(op, scope.current(), scope.phase, status, cost, dtype,
                                   self._via[-1] if self._via else None,
                                   in_shape, out_shape, comm))
