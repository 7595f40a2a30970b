"""Shape-only stand-ins for meta kernels that torch implements slowly in Python.

On the ``meta`` device an op computes only its outputs' metadata, but torch 2.x computes it for
most ops in Python (``torch._refs``, ``torch._meta_registrations``): an elementwise ``add`` or
``hardswish`` on meta costs tens to hundreds of microseconds, often more than the real kernel on
a small tensor. Counting on meta (and on the shadows of a real model) pays that for every op, so
the counting mode takes two short cuts when every tensor argument is a plain meta tensor:

- :data:`FAST_META`: batch normalisation builds its outputs directly: the input's shape and
  strides plus two per-channel statistics, or two empty ones in eval (what the CPU and CUDA
  kernels return; torch's meta kernel returns per-channel ones there, which would count bytes a
  real run never writes);
- :class:`MetaCache`: any other functional op (no argument or output aliased or written, per its
  schema) and any in-place op returns outputs that depend only on the arguments' metadata (shape,
  strides, dtype) and non-tensor values, so the first call's outputs' metadata is remembered for
  that key and later calls with the same key build empty meta outputs directly. Models repeat
  their blocks, so most calls hit; the counting mode shares one cache per process
  (:data:`SHARED`), so counting a model again, or one of the same family, hits throughout. Each
  key has a :class:`Slot`, where the counting mode also keeps the call's event record (its cost
  is a function of the same metadata), so a repeated call is one key and one lookup.

Tests check both against the real kernels (shape, strides, dtype) and counts against real runs.

>>> cache = MetaCache()
>>> x = torch.empty(2, 3, device="meta")
>>> first = cache.run(torch.ops.aten.add.Tensor, (x, x), {})
>>> again = cache.run(torch.ops.aten.add.Tensor, (x, x), {})
>>> again.shape, again.stride(), cache.hits
(torch.Size([2, 3]), (3, 1), 1)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["FAST_META", "SHARED", "MetaCache", "Slot", "all_meta"]

aten = torch.ops.aten
_STATS_UPCAST = (torch.float16, torch.bfloat16)
_PLAIN = (torch.Tensor, torch.nn.Parameter, torch.nn.Buffer)  # not fake or other subclasses
_META = torch.device("meta")


def _like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device=_META)


def _stats(x: torch.Tensor, training: bool) -> torch.Tensor:
    dtype = torch.float32 if x.dtype in _STATS_UPCAST else x.dtype
    return torch.empty((x.shape[1] if training else 0,), dtype=dtype, device=_META)


def _batch_norm(x: torch.Tensor, weight: Any, bias: Any, mean: Any, var: Any, training: bool,
                *args: Any) -> tuple[torch.Tensor, ...]:
    """(output like the input, save_mean, save_invstd): [C] in training, [0] in eval."""
    return _like(x), _stats(x, training), _stats(x, training)


def _batch_norm_eval(x: torch.Tensor, *args: Any) -> tuple[torch.Tensor, ...]:
    return _like(x), _stats(x, False), _stats(x, False)


FAST_META: dict[Any, Callable[..., Any]] = {
    aten.native_batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm_eval,
}


def all_meta(args: tuple, kwargs: dict) -> bool:
    """True when every tensor among the arguments (top level and in lists) is on meta."""
    found = False
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            if not value.is_meta or type(value) not in _PLAIN:
                return False
            found = True
    return found


# -- the metadata cache ----------------------------------------------------------------------
_INPLACE = "inplace"
#: Elementwise ops torch does not tag ``pointwise`` (torch 2.14).
_UNTAGGED_POINTWISE = frozenset({aten.hardswish.default, aten.hardswish_.default,
                                 aten.mish_.default, aten.gelu_.default, aten.fill_.Scalar,
                                 aten.zero_.default, aten.masked_fill_.Scalar})
_SCALARS = (int, float, bool, str, type(None), torch.dtype, torch.device, torch.layout,
            torch.memory_format)
_SCALAR_TYPES = frozenset(_SCALARS)
_UNSEEN = "unseen"


def _kind(func: Any) -> str | None:
    """``"functional"``, ``"inplace"`` (a pointwise op that writes and returns its first
    argument) or ``None`` (a view, an out= variant, anything returning non-tensors: not
    cached)."""
    schema = func._schema
    returns = schema.returns
    if not returns or any(str(r.type) != "Tensor" for r in returns):
        return None
    aliased = [a for a in schema.arguments if a.alias_info is not None]
    if not aliased and all(r.alias_info is None for r in returns):
        return "functional"
    first = schema.arguments[0] if schema.arguments else None
    # NB: only pointwise in-place ops: others (resize_, set_, transpose_) change self's metadata
    if (_pointwise(func) and len(returns) == 1 and aliased == [first]
            and first is not None and first.alias_info.is_write
            and returns[0].alias_info is not None and returns[0].alias_info.is_write):
        return _INPLACE
    return None


def _pointwise(func: Any) -> bool:
    return torch.Tag.pointwise in func.tags or func in _UNTAGGED_POINTWISE


def _dense_strides(shape: tuple[int, ...], order: tuple[int, ...]) -> tuple[int, ...]:
    """The strides of a dense tensor of ``shape`` whose dims run innermost-first in ``order``."""
    strides = [0] * len(shape)
    step = 1
    for dim in order:
        strides[dim] = step
        step *= max(shape[dim], 1)
    return tuple(strides)


def _layout(tensors: list[torch.Tensor]) -> Any:
    """For pointwise ops whose tensors all share one shape, one dtype and a dense contiguous or
    channels-last layout, a key of that layout without the sizes (``None`` otherwise): the output
    is then a tensor of the same shape and strides, whatever the sizes."""
    first = tensors[0]
    shape, stride, dtype = tuple(first.shape), first.stride(), first.dtype
    for tensor in tensors[1:]:
        if type(tensor) not in _PLAIN or not tensor.is_meta or tensor.dtype != dtype:
            return None
        if tuple(tensor.shape) != shape or tensor.stride() != stride:
            return None
    if type(first) not in _PLAIN or not first.is_meta:
        return None
    rank = len(shape)
    if stride == _dense_strides(shape, tuple(range(rank - 1, -1, -1))):
        layout = "contiguous"
    elif rank == 4 and stride == _dense_strides(shape, (1, 3, 2, 0)):
        layout = "channels_last"
    else:
        return None
    # NB: which dims have size 1 is part of the key: there the layout of the output is a tie
    return (layout, dtype, tuple(size == 1 for size in shape))


def _signature(value: Any) -> Any:
    """A hashable stand-in for an argument's metadata; raises ``TypeError`` if it has none."""
    kind = type(value)
    if kind in _PLAIN:
        if not value.is_meta:
            raise TypeError("not a meta tensor")
        return (value.shape, value.stride(), value.dtype)
    if kind is list or kind is tuple:   # scalars inline: most items are ints
        return (kind, *[(type(item), item) if type(item) in _SCALAR_TYPES else _signature(item)
                        for item in value])
    if kind in _SCALAR_TYPES or isinstance(value, _SCALARS):
        return (kind, value)
    raise TypeError(f"no metadata signature for {kind.__name__}")


def _flatten(value: Any, parts: list[Any]) -> None:
    """Append ``value``'s metadata to the flat key ``parts`` (raises ``TypeError`` if it has
    none): a tensor adds its shape, strides and dtype, a scalar its type and value, a list or
    tuple ``(type, length)`` and then its items. The first entry of each part tells which kind
    it is (a ``torch.Size``, a type, a ``(type, length)`` pair, or a keyword's name), so two
    calls share a key only when their arguments' metadata are equal."""
    kind = type(value)
    if kind in _PLAIN:
        if not value.is_meta:
            raise TypeError("not a meta tensor")
        parts += (value.shape, value.stride(), value.dtype)
    elif kind in _SCALAR_TYPES:
        parts += (kind, value)
    elif kind is list or kind is tuple:
        parts.append((kind, len(value)))
        for item in value:
            _flatten(item, parts)
    elif isinstance(value, _SCALARS):
        parts += (kind, value)
    else:
        raise TypeError(f"no metadata signature for {kind.__name__}")


def _call_key(func: Any, args: tuple, kwargs: dict) -> tuple[Any, ...] | None:
    """The cache key of a call: the op (by id: torch's ``OpOverload.__hash__`` is Python code;
    :class:`MetaCache` keeps every op it keys alive), the default dtype and its arguments'
    metadata, flat (see :func:`_flatten`); ``None`` when an argument has no metadata
    signature."""
    parts: list[Any] = [id(func), torch.get_default_dtype()]
    try:
        for value in args:   # the common cases inline: a meta tensor, a scalar, a list of ints
            kind = type(value)
            if kind in _PLAIN and value.is_meta:
                parts += (value.shape, value.stride(), value.dtype)
            elif kind in _SCALAR_TYPES:
                parts += (kind, value)
            elif kind is list and _ints(value):
                # one part, (list, (ints...)): unlike any part _flatten writes (a list's header
                # is (type, length))
                parts.append((list, tuple(value)))
            else:
                _flatten(value, parts)
        for name, value in kwargs.items():
            parts.append(name)
            _flatten(value, parts)
    except TypeError:
        return None
    return tuple(parts)


def _ints(values: list[Any]) -> bool:
    """Whether every item is an ``int`` (not a bool, a float or a SymInt)."""
    for value in values:  # noqa: SIM110 (a loop: all() over a generator costs more per call)
        if type(value) is not int:
            return False
    return True


class Slot:
    """What the cache knows of one call signature (the op, the default dtype, the arguments'
    metadata): its outputs' metadata, once seen, and what the counting mode recorded for it."""

    __slots__ = ("outputs", "record")

    def __init__(self) -> None:
        self.outputs: Any = _UNSEEN
        self.record: Any = None


class MetaCache:
    """Remembers the outputs' metadata of meta kernels by the arguments' metadata (see the
    module). Bounded: past ``limit`` keys it starts again empty."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._kinds: dict[Any, str | None] = {}
        self._ops: dict[int, Any] = {}
        self._seen: dict[Any, Slot] = {}
        self._pointwise: set[Any] = set()
        self._pointwise_seen: dict[Any, Any] = {}
        self.hits = 0

    def slot(self, func: Any, args: tuple, kwargs: dict) -> Slot | None:
        """The slot of this call's signature (new if unseen); ``None`` when an argument is not
        a plain meta tensor or a plain value (lists of them included)."""
        key = _call_key(func, args, kwargs)
        if key is None:
            return None
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            found = self._seen[key] = Slot()
            self._ops.setdefault(id(func), func)   # the key holds its id: keep it alive
        return found

    def run(self, func: Any, args: tuple, kwargs: dict) -> Any:
        """``func(*args, **kwargs)``, or its remembered outputs' metadata as new meta tensors."""
        return self.run_in(self.slot(func, args, kwargs), func, args, kwargs)

    def run_in(self, slot: Slot | None, func: Any, args: tuple, kwargs: dict) -> Any:
        """:meth:`run` with the call's :meth:`slot` already looked up."""
        if slot is not None:
            outputs = slot.outputs
            if outputs is not _UNSEEN and outputs is not None:
                self.hits += 1
                return _rebuild(outputs, args)
            if outputs is None:
                return func(*args, **kwargs)
        kind = self._kind_of(func)
        if kind is None:
            if slot is not None:
                slot.outputs = None
            return func(*args, **kwargs)
        out = None
        if func in self._pointwise:
            out = self._run_pointwise(func, kind, args, kwargs)
        if out is None:
            out = func(*args, **kwargs)
        if slot is not None:
            slot.outputs = _remember(kind, out, args)
        return out

    def remember(self, slot: Slot, func: Any, out: Any, args: tuple) -> None:
        """Keep ``out``'s metadata in ``slot`` (outputs built elsewhere, e.g. by
        :data:`FAST_META`)."""
        kind = self._kind_of(func)
        slot.outputs = None if kind is None else _remember(kind, out, args)

    def _kind_of(self, func: Any) -> str | None:
        kind = self._kinds.get(func, "")
        if kind == "":
            kind = self._kinds[func] = _kind(func)
            if kind is not None and _pointwise(func):
                self._pointwise.add(func)
        return kind

    def _run_pointwise(self, func: Any, kind: str, args: tuple, kwargs: dict) -> Any:
        """A pointwise op over tensors of one shape and dense layout: its output keyed by the
        layout, not the sizes (see :func:`_layout`); ``None`` when that does not apply."""
        tensors = [value for value in (*args, *kwargs.values())
                   if isinstance(value, torch.Tensor)]
        if not tensors or any(isinstance(value, (list, tuple)) for value in args):
            return None
        layout = _layout(tensors)
        if layout is None:
            return None
        try:
            rest = tuple(None if isinstance(v, torch.Tensor) else _signature(v) for v in args)
            named = tuple((k, None if isinstance(v, torch.Tensor) else _signature(v))
                          for k, v in kwargs.items())
        except TypeError:
            return None
        key = (func, torch.get_default_dtype(), layout, rest, named)
        found = self._pointwise_seen.get(key)
        first = tensors[0]
        if found is not None:
            self.hits += 1
            if found == _INPLACE:
                return args[0]
            return torch.empty_strided(first.shape, first.stride(), dtype=found, device=_META)
        out = func(*args, **kwargs)
        if len(self._pointwise_seen) >= self.limit:
            self._pointwise_seen.clear()
        if kind == _INPLACE:
            self._pointwise_seen[key] = _INPLACE if out is args[0] else None
        elif (isinstance(out, torch.Tensor) and out.is_meta and out.shape == first.shape
              and out.stride() == first.stride()):
            self._pointwise_seen[key] = out.dtype
        return out


#: The cache every counting run shares.
SHARED = MetaCache()


def _metadata(tensor: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...], torch.dtype]:
    return tuple(tensor.shape), tensor.stride(), tensor.dtype


def _empty(shape: tuple[int, ...], stride: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty_strided(shape, stride, dtype=dtype, device=_META)


def _remember(kind: str, out: Any, args: tuple) -> Any:
    """What a slot keeps of ``out``: ``"inplace"``, one tensor's metadata, a list of them, or
    ``None`` (not rebuildable: run the kernel every time)."""
    if kind == _INPLACE:
        return _INPLACE if out is args[0] else None
    outputs = [out] if isinstance(out, torch.Tensor) else list(out)
    if not all(isinstance(item, torch.Tensor) and item.is_meta for item in outputs):
        return None
    metadata = [_metadata(item) for item in outputs]
    return metadata[0] if isinstance(out, torch.Tensor) else metadata


def _rebuild(outputs: Any, args: tuple) -> Any:
    if outputs is _INPLACE:
        return args[0]
    if type(outputs) is list:
        return tuple([_empty(*meta) for meta in outputs])
    shape, stride, dtype = outputs
    return torch.empty_strided(shape, stride, dtype=dtype, device=_META)
