"""Tensor lifetimes during a profile run: live bytes after every op, and what autograd saves.

:class:`MemoryTracker` is an :class:`~flopwise.capture.mode.Observer` of the counting mode plus a
pair of ``saved_tensors_hooks``. It allocates nothing itself: on ``meta`` or fake tensors it
simulates the run's memory from the tensors the ops create and the moments they are released.

**Storages, not tensors.** Memory is held by storages; views share their base's storage. An op
*creates* memory when an output's storage is new: not a storage of one of its inputs, nor one
that existed before the run (parameters, buffers, inputs), the op's schema does not say the
output aliases an input (views, in-place and ``out=`` ops), and the op writes bytes (metadata ops
write none, per the formula table). Under fake tensors a view of a parameter, or an in-place
update of a buffer, has the storage of the tensor's fake twin: no new memory either. Each
storage is counted once, at its full size (``untyped_storage().nbytes()``), keyed by the storage's address
(``untyped_storage()._cdata``), unique while it is alive.

**Release.** A storage's Python object lives exactly as long as the storage itself (torch keeps
it alive while any tensor uses the storage), so a weak reference to it reports the moment the
storage is freed: that is the *run's* live memory, everything autograd holds included.

**Inference live set.** When the forward records an autograd graph, the graph keeps the tensors
it saved for backward alive, which an inference run (``torch.no_grad()``) would free. The pack
hook hands autograd a detached alias of each saved tensor (the documented ``x.detach()`` pattern;
same storage, same values), so the graph no longer holds the tensor objects the model produced.
Weak references to those objects (op outputs, and op inputs that use a tracked storage) tell
when the model itself stops using a storage: the *inference* live set, whose maximum over the
forward is ``activation_peak_bytes``. On a forward without a graph both live sets are the same.

**Saved for backward.** The pack hook sees every tensor autograd saves; each storage counts once.
Counted are the storages the run's ops created and the run's inputs; parameters and buffers (and
their fake-tensor twins, or any other tensor made outside the run) never: they are counted as
parameters. The bytes are attributed to the module running when the tensor was packed. If the
caller already has saved-tensor hooks active, they still run (ours record, then call theirs).

Not seen: memory inside a single kernel (workspaces), the caching allocator's rounding and
fragmentation, tensors the model stores outside any op's outputs (``.data`` aliases, Python
attributes of autograd contexts).
"""

from __future__ import annotations

import contextlib
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from typing import TYPE_CHECKING, Any, cast

import torch
from torch.utils._python_dispatch import _disable_current_modes
from torch.utils._pytree import tree_leaves

from flopwise.capture.events import OpEvent, Phase

if TYPE_CHECKING:
    from flopwise.capture.scope import ModuleScope

__all__ = ["MemoryTrace", "MemoryTracker", "storage_of"]


@dataclass(frozen=True)
class MemoryTrace:
    """What the tracker saw, in bytes (all ints).

    - ``activation_peak_bytes``: the most memory the forward's own tensors held at once, as in
      inference (autograd's references not counted).
    - ``forward_peak_bytes``: the most the forward held at once, the graph's saved tensors
      included (equal to the above when no graph was recorded).
    - ``backward_peak_bytes``: the most held at once during backward (saved tensors not yet
      freed, gradients being produced, the forward's outputs); 0 without backward.
    - ``saved_for_backward_bytes``: distinct storages autograd saved, parameters excluded.
    - per-module dicts, keyed by module name (``""`` is the root): storages created by the
      module's own forward ops, saved bytes packed while it ran, and the most inference-live
      bytes after any of its own forward ops.
    """

    activation_peak_bytes: int
    forward_peak_bytes: int
    backward_peak_bytes: int
    saved_for_backward_bytes: int
    saved_tensors: int
    created_bytes: dict[str, int] = field(default_factory=dict)
    saved_bytes: dict[str, int] = field(default_factory=dict)
    peak_live_bytes: dict[str, int] = field(default_factory=dict)
    hooks_available: bool = True


class MemoryTracker:
    """Observer of every op plus saved-tensor hooks; see the module's docstring.

    >>> import torch
    >>> from flopwise.capture.mode import CountingMode
    >>> from flopwise.capture.scope import ModuleScope
    >>> from flopwise.formulas import builtin_registry
    >>> x = torch.randn(4, 256)                    # 4 KiB
    >>> tracker = MemoryTracker()
    >>> with tracker.tracking(inputs=(x,)), CountingMode(builtin_registry(), ModuleScope({}), (tracker,)):
    ...     y = (x * 2).relu().sum()               # x*2 (4 KiB) and relu (4 KiB) live together
    >>> tracker.trace().activation_peak_bytes
    8192
    """

    def __init__(self, scope: ModuleScope | None = None) -> None:
        self._scope = scope
        self._external: set[int] = set()
        self._inputs: set[int] = set()
        self._paused = False
        self._storages: dict[int, Any] = {}   # key -> weakref to the storage (run live set)
        self._sizes: dict[int, int] = {}
        self._users: dict[int, int] = {}      # key -> live tensor objects (inference live set)
        self._objects: dict[int, Any] = {}    # id(tensor) -> weakref to it
        self._saved: dict[int, Any] = {}      # key -> weakref to a saved storage still alive
        self._live = 0
        self._user_live = 0
        self._peaks = {Phase.FORWARD: 0, Phase.BACKWARD: 0}
        self._activation_peak = 0
        self._saved_total = 0
        self._saved_count = 0
        self._created: Counter[str] = Counter()
        self._saved_by: Counter[str] = Counter()
        self._module_peak: dict[str, int] = {}
        self._hooks_available = True
        self._user_hooks: tuple[Any, Any] | None = None

    # -- set-up ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def tracking(self, state: Any = (), inputs: Any = ()) -> Iterator[MemoryTracker]:
        """Install the saved-tensor hooks for the run. ``state`` holds the model's parameters
        and buffers, ``inputs`` the tensors it is called with (any nesting of tensors): neither
        is the run's activation memory, and only inputs count as saved for backward. Everything
        installed is removed on exit, also when the model raised."""
        for leaf in tree_leaves(state):
            key = _key(leaf)
            if key is not None:
                self._external.add(key)
        for leaf in tree_leaves(inputs):
            key = _key(leaf)
            if key is not None:
                self._external.add(key)
                self._inputs.add(key)
        self._hooks_available = bool(
            torch._C._autograd._saved_tensors_hooks_is_enabled())  # type: ignore[attr-defined]
        hooks: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if self._hooks_available:
            self._user_hooks = torch._C._autograd._top_saved_tensors_default_hooks(False)
            hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        try:
            with hooks:
                yield self
        finally:
            self._stop()

    def pause(self) -> None:
        """Stop watching ops (for work that is not the run's, such as a shadow optimizer step)."""
        self._paused = True

    def _stop(self) -> None:
        """Drop every weak reference (their callbacks never fire after this)."""
        self._storages.clear()
        self._objects.clear()
        self._saved.clear()
        self._user_hooks = None

    # -- releases --------------------------------------------------------------------------
    def _storage_freed(self, key: int, _ref: Any) -> None:
        if self._storages.pop(key, None) is not None:
            self._live -= self._sizes.pop(key)

    def _object_freed(self, ident: int, key: int, _ref: Any) -> None:
        if self._objects.pop(ident, None) is None:
            return
        count = self._users.get(key, 0)
        if count > 1:
            self._users[key] = count - 1
        elif count == 1:
            del self._users[key]
            self._user_live -= self._sizes.get(key, 0)

    def _saved_freed(self, key: int, _ref: Any) -> None:
        self._saved.pop(key, None)

    # -- ops ---------------------------------------------------------------------------------
    def on_op(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], out: Any,
              event: OpEvent) -> None:
        """Register the storages ``out`` creates; in forward, the tensor objects using them."""
        phase = event.phase
        if phase is Phase.OPTIMIZER or self._paused:
            return
        forward = phase is Phase.FORWARD
        inputs = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        input_keys = {_key(t) for t in inputs}
        for tensor in tree_leaves(out):
            storage = storage_of(tensor)
            if storage is None:
                continue
            key = storage._cdata
            if key in self._external:
                continue
            if key not in self._storages:
                if key in input_keys or not event.cost.bytes_written or _aliases(op):
                    continue     # a view, alias or in-place result of an untracked tensor
                self._new_storage(storage, key, event.module if forward else None)
            if forward:
                self._use(tensor, key)
        if forward:
            for tensor in inputs:
                key = _key(tensor)
                if key is not None and key in self._storages:
                    self._use(tensor, key)
            self._activation_peak = max(self._activation_peak, self._user_live)
            module = event.module
            if self._user_live > self._module_peak.get(module, -1):
                self._module_peak[module] = self._user_live
        self._peaks[phase] = max(self._peaks[phase], self._live)

    def _new_storage(self, storage: Any, key: int, module: str | None) -> None:
        size = storage.nbytes()
        self._storages[key] = weakref.ref(storage, partial(self._storage_freed, key))
        self._sizes[key] = size
        self._live += size
        if module is not None:
            self._created[module] += size

    def _use(self, tensor: torch.Tensor, key: int) -> None:
        ident = id(tensor)
        if ident in self._objects:
            return
        self._objects[ident] = weakref.ref(tensor, partial(self._object_freed, ident, key))
        count = self._users.get(key, 0)
        self._users[key] = count + 1
        if count == 0:
            self._user_live += self._sizes[key]

    # -- autograd ----------------------------------------------------------------------------
    def _pack(self, tensor: torch.Tensor) -> Any:
        storage = storage_of(tensor)
        key: int | None = None if storage is None else storage._cdata
        # counted: the run's own storages and its inputs; not parameters (or their fake twins)
        counted = key is not None and (key in self._storages or key in self._inputs)
        if counted and key is not None and key not in self._saved:
            self._saved[key] = weakref.ref(storage, partial(self._saved_freed, key))
            size = storage.nbytes()
            self._saved_total += size
            self._saved_count += 1
            self._saved_by[self._scope.current() if self._scope is not None else ""] += size
        if self._user_hooks is not None:
            return self._user_hooks[0](tensor)
        # the recommended pack hook: an alias that does not hold the caller's tensor object,
        # made with the dispatch modes off (the counter records no op of ours)
        with _disable_current_modes():
            return tensor.detach(), tensor._version

    def _unpack(self, packed: Any) -> torch.Tensor:
        if self._user_hooks is not None:
            return cast("torch.Tensor", self._user_hooks[1](packed))
        alias, version = packed
        if alias._version != version:
            # autograd skips its own check when hooks are set; keep its error for in-place bugs
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{alias.dtype} {list(alias.shape)}] is at version "
                f"{alias._version}; expected version {version} instead")
        return cast("torch.Tensor", alias)

    # -- result ------------------------------------------------------------------------------
    def trace(self) -> MemoryTrace:
        """The figures gathered so far."""
        return MemoryTrace(
            activation_peak_bytes=self._activation_peak,
            forward_peak_bytes=self._peaks[Phase.FORWARD],
            backward_peak_bytes=self._peaks[Phase.BACKWARD],
            saved_for_backward_bytes=self._saved_total,
            saved_tensors=self._saved_count,
            created_bytes=dict(self._created),
            saved_bytes=dict(self._saved_by),
            peak_live_bytes=dict(self._module_peak),
            hooks_available=self._hooks_available,
        )


@cache
def _aliases(op: str) -> bool:
    """True when the op's schema says an output aliases an input (views, in-place, ``out=``)."""
    namespace, _, rest = op.partition(".")
    packet, _, overload = rest.partition(".")
    try:
        func = getattr(getattr(getattr(torch.ops, namespace), packet), overload or "default")
        return any(ret.alias_info is not None for ret in func._schema.returns)
    except (AttributeError, RuntimeError):
        return False


def storage_of(value: Any) -> Any:
    """The untyped storage of a tensor, or ``None`` (not a tensor; sparse or wrapper tensors
    without a storage of their own)."""
    if not isinstance(value, torch.Tensor):
        return None
    try:
        return value.untyped_storage()
    except (RuntimeError, NotImplementedError):
        return None


def _key(value: Any) -> int | None:
    storage = storage_of(value)
    return None if storage is None else storage._cdata
