"""The dispatch mode that sees every aten operator and records one :class:`OpEvent` per call."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch._decomp import decomposition_table
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from flopwise.capture.events import OpEvent, Status
from flopwise.capture.scope import ModuleScope
from flopwise.formulas.registry import Entry, FormulaRegistry, Kind
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["CountingMode", "to_spec"]

_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _dtype_name(dtype: torch.dtype) -> str:
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype).removeprefix("torch.")
    return name


def to_spec(value: Any) -> Any:
    """A tensor becomes a :class:`TensorSpec`; anything else is returned unchanged."""
    if isinstance(value, torch.Tensor):
        return TensorSpec(tuple(int(s) for s in value.shape), _dtype_name(value.dtype),
                          value.element_size())
    return value


def _nbytes(value: Any) -> int:
    if isinstance(value, TensorSpec):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(_nbytes(v) for v in value.values())
    return 0


def _compute_dtype(args: Any, result: Any) -> str:
    for value in (args, result):
        stack = [value]
        while stack:
            item = stack.pop(0)
            if isinstance(item, TensorSpec):
                if item.dtype.startswith(("float", "bfloat", "complex")):
                    return item.dtype
            elif isinstance(item, (list, tuple)):
                stack.extend(item)
    return "none"


def _is_view(func: torch._ops.OpOverload) -> bool:
    """True when every output aliases an input without writing it (per the op's schema)."""
    returns = func._schema.returns
    return bool(returns) and all(
        r.alias_info is not None and not r.alias_info.is_write for r in returns
    )


_VIEW_ENTRY = Entry("(view)", Kind.ZERO, "view", None, "output aliases an input", False)


class CountingMode(TorchDispatchMode):
    """Records an event for every aten op call; never changes what the op computes."""

    def __init__(self, registry: FormulaRegistry, scope: ModuleScope) -> None:
        super().__init__()
        self.registry = registry
        self.scope = scope
        self.events: list[OpEvent] = []
        self.decomposed: Counter[str] = Counter()
        self.formula_errors: dict[str, str] = {}
        self._entries: dict[Any, Entry | None] = {}
        self._via: list[str] = []

    def _entry(self, func: Any) -> Entry | None:
        try:
            return self._entries[func]
        except KeyError:
            entry = self.registry.lookup(str(func))
            if entry is None and _is_view(func):
                entry = _VIEW_ENTRY
            self._entries[func] = entry
            return entry

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        entry = self._entry(func)
        if entry is None:
            result = self._decompose(func, args, kwargs)
            if result is not NotImplemented:
                return result
        out = func(*args, **kwargs)
        self._record(func, entry, args, kwargs, out)
        return out

    def _decompose(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """Run ``func`` through its decomposition under this mode, so its parts are counted."""
        decomposition = decomposition_table.get(func)
        recorded = len(self.events)
        self._via.append(str(func))
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
            self.decomposed[str(func)] += 1
        return result

    def _record(self, func: Any, entry: Entry | None, args: tuple, kwargs: dict, out: Any) -> None:
        op = str(func)
        arg_specs = tree_map(to_spec, args)
        kwarg_specs = tree_map(to_spec, kwargs)
        result = tree_map(to_spec, out)
        if entry is None:
            status, cost = Status.UNSUPPORTED, Cost()
        elif entry.kind is Kind.ZERO:
            status = Status.ZERO
            cost = Cost() if entry.moves_data else Cost(bytes_read=0, bytes_written=0)
        else:
            status = Status.COUNTED
            try:
                cost = entry.formula(result, *arg_specs, **kwarg_specs)  # type: ignore[misc]
            except Exception as error:  # a formula that cannot read these arguments
                self.formula_errors.setdefault(op, f"{type(error).__name__}: {error}")
                status, cost = Status.UNSUPPORTED, Cost()
        if cost.bytes_read is None or cost.bytes_written is None:
            cost = Cost(
                cost.macs, cost.dot_outputs, cost.bias_adds, cost.elementwise,
                _nbytes((arg_specs, kwarg_specs)) if cost.bytes_read is None else cost.bytes_read,
                _nbytes(result) if cost.bytes_written is None else cost.bytes_written,
            )
        self.events.append(OpEvent(
            op=op,
            module=self.scope.current(),
            phase=self.scope.phase,
            status=status,
            cost=cost,
            dtype=_compute_dtype(arg_specs, result),
            via=self._via[-1] if self._via else None,
        ))
