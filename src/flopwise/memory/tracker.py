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

**A run without backward keeps no saved tensor.** Built with ``keep_saved=False`` (a profile
with no backward pass: nothing will unpack), the pack hook hands autograd, for a tensor on a real
device, a small token instead of an alias: the graph keeps no storage alive, so a real run holds
only what an inference forward holds. The figures stay as with ``keep_saved=True``: a saved
storage the run created stays in the run's live bytes (``forward_peak_bytes``) after it is freed,
until the graph lets go of its last token, as it would have with an alias. Meta and fake
tensors (no memory to hold) still get the alias. Unpacking a token (a forward that itself
differentiates) raises :class:`~flopwise.UsageError`.

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
import itertools
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
from flopwise.errors import UsageError

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

    def __init__(self, scope: ModuleScope | None = None, keep_saved: bool = True) -> None:
        self._scope = scope
        self._keep_saved = keep_saved
        self._serials = itertools.count()
        self._hold_of: dict[int, int] = {}    # key -> serial of the token the graph holds for it
        self._hold_refs: dict[int, Any] = {}  # serial -> weakref to that token
        self._deferred: dict[int, int] = {}   # serial -> bytes of a freed storage it still holds
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
        self._hold_refs.clear()
        self._user_hooks = None

    # -- releases --------------------------------------------------------------------------
    def _storage_freed(self, key: int, _ref: Any) -> None:
        if self._storages.pop(key, None) is None:
            return
        size = self._sizes.pop(key)
        serial = self._hold_of.pop(key, None)
        if serial is not None and serial in self._hold_refs:
            self._deferred[serial] = size        # the graph still holds its token
        else:
            self._live -= size

    def _token_freed(self, serial: int, key: int, _ref: Any) -> None:
        self._hold_refs.pop(serial, None)
        if self._hold_of.get(key) == serial:
            del self._hold_of[key]
        self._live -= self._deferred.pop(serial, 0)

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
        if not self._keep_saved and storage is not None and storage.device.type != "meta":
            return self._token(key)
        # the recommended pack hook: an alias that does not hold the caller's tensor object,
        # made with the dispatch modes off (the counter records no op of ours)
        with _disable_current_modes():
            return tensor.detach(), tensor._version

    def _token(self, key: int | None) -> _Token:
        """The token for a saved storage: one per storage the run created (shared by its
        saves), whose death tells when the graph lets go; a fresh, untracked one otherwise."""
        if key is None or key not in self._storages:
            return _Token()
        serial = self._hold_of.get(key)
        ref = self._hold_refs.get(serial) if serial is not None else None
        token = ref() if ref is not None else None
        if token is None:
            serial, token = next(self._serials), _Token()
            self._hold_of[key] = serial
            self._hold_refs[serial] = weakref.ref(token, partial(self._token_freed, serial, key))
        return token

    def _unpack(self, packed: Any) -> torch.Tensor:
        if self._user_hooks is not None:
            return cast("torch.Tensor", self._user_hooks[1](packed))
        if isinstance(packed, _Token):
            raise UsageError(
                "the model's forward differentiates through a tensor autograd saved, which a "
                "profile without backward does not keep on a real device; profile it with "
                "backward=True (--backward)")
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


class _Token:
    """What autograd holds for a saved tensor in a run that keeps none (no storage)."""

    __slots__ = ("__weakref__",)


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
