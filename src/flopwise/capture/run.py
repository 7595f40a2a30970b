"""Running the user's model: the only code that calls it, for counting, timing and fitting.

- :func:`walk_model` reads the model's structure once (module names, tree nodes, unique
  parameters and buffers); model sources whose layers are not ``named_modules`` describe
  themselves through an adapter registered in :data:`STRUCTURES` (Keras);
- :func:`preserved_state` leaves buffers, the RNG and grad mode as found;
- :func:`shadowed` swaps meta stand-ins (*shadows*) in for a real model's parameters, buffers
  and tensor inputs for one call, and the originals back after (:mod:`flopwise.capture.execute`);
- :func:`run_counted` runs forward (on shadows by default, for real when the model needs values
  or ``execute="always"``, under fake tensors with ``fake``), backward and one optimizer step on
  shadows, under the counting mode and the module hooks;
- :func:`loss_of`, :func:`as_tuple`, :func:`resized_inputs`: the inputs and the loss every run
  shares.

>>> import torch
>>> walk = walk_model(torch.nn.Sequential(torch.nn.Linear(2, 3)))
>>> sorted(walk.names.values()), [node.own_params for node in walk.nodes]
(['', '0'], [0, 9])
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from torch.utils._pytree import tree_leaves

from flopwise.capture.events import Phase
from flopwise.capture.execute import SHADOW, Execute, executed_label
from flopwise.capture.scope import ModuleScope
from flopwise.capture.shadow import shadow_optimizer
from flopwise.capture.stand_in import StandIn
from flopwise.errors import FlopwiseError, UsageError, first_line
from flopwise.tree import ModuleNode

if TYPE_CHECKING:
    from flopwise.capture.mode import CountingMode
    from flopwise.distributed.engine import DistributedRun
    from flopwise.memory.tracker import MemoryTracker

__all__ = [
    "STRUCTURES",
    "Capture",
    "Counted",
    "Walk",
    "all_tensors",
    "as_tuple",
    "bytes_by_dtype",
    "device_of",
    "loss_of",
    "mode_of",
    "model_label",
    "preserved_state",
    "resized_inputs",
    "run_counted",
    "run_timed_step",
    "shadowed",
    "uncompiled",
    "walk_model",
]

#: Model sources whose structure is not torch's module tree: the top-level package a model's
#: class (or a base class) comes from -> ``"module:function"`` returning ``({id(module): name},
#: tree nodes)``; imported only when such a model is profiled.
STRUCTURES: dict[str, str] = {"keras": "flopwise.keras:keras_structure"}


# -- inputs and model structure ---------------------------------------------------------------
def uncompiled(model: Any) -> Any:
    """The module a ``torch.compile`` wrapper (``OptimizedModule``) holds, else ``model``."""
    inner = getattr(model, "_orig_mod", None)
    if type(model).__name__ == "OptimizedModule" and isinstance(inner, torch.nn.Module):
        return inner
    return model


def model_label(model: Any) -> str:
    if isinstance(model, torch.nn.Module):
        return type(model).__name__
    return str(getattr(model, "__name__", type(model).__name__))


def as_tuple(inputs: Any) -> tuple[Any, ...]:
    """A tuple is the positional inputs; anything else (a tensor, a list, a dict) is the one
    input: torchvision's detection models take a list of images as their single argument."""
    if isinstance(inputs, tuple):
        return inputs
    return (inputs,)


@dataclass
class Walk:
    """The model's structure, read in one walk: module names, tree nodes, unique tensors, and
    the torch modules themselves with every ``(table, key, tensor)`` entry of their
    ``_parameters`` and ``_buffers`` (both empty for models described by an adapter)."""

    names: dict[int, str] = field(default_factory=dict)
    nodes: list[ModuleNode] = field(default_factory=lambda: [ModuleNode("", "function")])
    params: list[torch.Tensor] = field(default_factory=list)
    buffers: list[torch.Tensor] = field(default_factory=list)
    modules: list[torch.nn.Module] = field(default_factory=list)
    entries: list[tuple[dict[str, Any], str, torch.Tensor]] = field(default_factory=list)


def _adapter(model: Any) -> Callable[[Any], tuple[dict[int, str], list[ModuleNode]]] | None:
    """The structure adapter registered for the package ``model``'s class comes from."""
    packages = {kind.__module__.partition(".")[0] for kind in type(model).__mro__}
    for package, target in STRUCTURES.items():
        if package in packages:
            module, _, function = target.partition(":")
            found: Callable[[Any], tuple[dict[int, str], list[ModuleNode]]] = getattr(
                importlib.import_module(module), function)
            return found
    return None


def walk_model(model: Any) -> Walk:
    """Names, nodes (each module's own first-owner parameter counts), parameters, buffers.

    Models of a package in :data:`STRUCTURES` are named by its adapter (Keras: by layers).
    """
    adapter = _adapter(model)
    if adapter is not None:
        names, nodes = adapter(model)
        return Walk(names, nodes, _unique(model.parameters()), _unique(model.buffers()))
    if not isinstance(model, torch.nn.Module):
        return Walk()
    walk = Walk(nodes=[])
    params: dict[int, torch.Tensor] = {}
    buffers: dict[int, torch.Tensor] = {}
    for name, module in model.named_modules():
        walk.names[id(module)] = name
        walk.modules.append(module)
        node = ModuleNode(name, type(module).__name__)
        table = module._parameters
        for key, param in table.items():
            if param is None:
                continue
            walk.entries.append((table, key, param))
            if id(param) not in params:
                params[id(param)] = param
                size = param.numel()
                node.own_params += size
                if param.requires_grad:
                    node.own_trainable += size
        table = module._buffers
        for key, buffer in table.items():
            if buffer is not None:
                walk.entries.append((table, key, buffer))
                buffers.setdefault(id(buffer), buffer)
        walk.nodes.append(node)
    walk.params, walk.buffers = list(params.values()), list(buffers.values())
    return walk


def _unique(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return list({id(tensor): tensor for tensor in tensors}.values())


def bytes_by_dtype(tensors: list[torch.Tensor]) -> dict[str, int]:
    """Bytes per dtype name, in the order the dtypes first occur.

    >>> bytes_by_dtype([torch.ones(3), torch.ones(2, dtype=torch.int8), torch.ones(1)])
    {'float32': 16, 'int8': 2}
    """
    totals: dict[torch.dtype, int] = {}
    for tensor in tensors:
        dtype = tensor.dtype
        totals[dtype] = totals.get(dtype, 0) + tensor.numel() * tensor.element_size()
    return {str(dtype).removeprefix("torch."): size for dtype, size in totals.items()}


def all_tensors(walk: Walk, positional: tuple, keyword: dict) -> Iterator[torch.Tensor]:
    yield from walk.params
    yield from walk.buffers
    for leaf in tree_leaves((positional, keyword)):
        if isinstance(leaf, torch.Tensor):
            yield leaf


def mode_of(walk: Walk, positional: tuple, keyword: dict) -> str:
    if any(t.is_meta for t in all_tensors(walk, positional, keyword)):
        return "meta"
    return "real"


def device_of(walk: Walk, positional: tuple, keyword: dict) -> str:
    for tensor in all_tensors(walk, positional, keyword):
        return str(tensor.device)
    return "cpu"


# -- leaving everything as found ------------------------------------------------------------
@contextlib.contextmanager
def preserved_state(buffers: list[torch.Tensor]) -> Iterator[None]:
    """Restore buffers mutated by forward (BatchNorm statistics), the RNG, and grad mode."""
    grad_enabled = torch.is_grad_enabled()
    cpu_rng = torch.get_rng_state()
    cuda_rng = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    saved = [(buffer, buffer.detach().clone()) for buffer in buffers if not buffer.is_meta]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                # NB: kernels such as batch norm update running statistics in place without
                # bumping the version counter, so every buffer is restored
                buffer.copy_(value)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.set_grad_enabled(grad_enabled)


def enter_fake_mode(stack: contextlib.ExitStack, positional: tuple,
                     keyword: dict) -> tuple[tuple, dict]:
    from torch._subclasses.fake_tensor import FakeTensorMode

    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)
    stack.enter_context(fake_mode)

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            fake_value = fake_mode.from_tensor(value)
            return fake_value
        return value

    positional = tuple(torch.utils._pytree.tree_map(convert, list(positional)))
    keyword = torch.utils._pytree.tree_map(convert, keyword)
    return positional, keyword


# -- backward and optimizer ------------------------------------------------------------------
def loss_of(output: Any) -> torch.Tensor:
    """``output.sum()`` over every floating tensor in the output that carries a gradient."""
    loss_attr = getattr(output, "loss", None)
    if isinstance(loss_attr, torch.Tensor) and loss_attr.requires_grad:
        return loss_attr
    values = list(output.values()) if isinstance(output, Mapping) else output
    tensors = [t for t in tree_leaves(values)
               if isinstance(t, torch.Tensor) and t.requires_grad and t.is_floating_point()]
    if not tensors:
        raise UsageError(
            "backward=True but no output of the model requires grad; make parameters or inputs "
            "require grad, or pass loss= returning a differentiable scalar"
        )
    total = tensors[0].sum()
    for tensor in tensors[1:]:
        total = total + tensor.sum()
    return total


def run_backward(walk: Walk, output: Any, positional: tuple, keyword: dict,
                 loss: Callable[[Any], torch.Tensor] | None, scope: ModuleScope,
                 accumulate: bool = False) -> None:
    value = loss(output) if loss is not None else loss_of(output)
    leaves = [t for t in all_tensors(walk, positional, keyword)
              if t.requires_grad and t.grad_fn is None]
    if not leaves or not value.requires_grad:
        raise UsageError(
            "backward=True but nothing requires grad: make parameters or inputs require grad"
        )
    scope.phase = Phase.BACKWARD
    try:
        if accumulate:   # distributed: FSDP's and DDP's gradient hooks must fire
            from flopwise.distributed.engine import accumulating_backward

            accumulating_backward(value, leaves)
        else:
            torch.autograd.grad(value, leaves, allow_unused=True)
    finally:
        scope.phase = Phase.FORWARD


def run_timed_step(model: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], backward: bool,
                   loss: Callable[[Any], torch.Tensor] | None, leaves: list[torch.Tensor],
                   clock: Any) -> tuple[Any, Any, Any]:
    """One real call of ``model`` (and its backward) for timing, marked by ``clock.mark()``.

    Returns the marks (start, forward end, end). Gradients go through ``torch.autograd.grad``,
    so no ``.grad`` is written.
    """
    start = clock.mark()
    output = model(*args, **kwargs)
    middle = clock.mark()
    if backward:
        value = loss(output) if loss is not None else loss_of(output)
        torch.autograd.grad(value, leaves, allow_unused=True)
    end = clock.mark()
    return start, middle, end


def run_optimizer_step(optimizer: torch.optim.Optimizer, scope: ModuleScope) -> None:
    """One step of the optimizer's algorithm on meta shadows of its parameters."""
    shadow = shadow_optimizer(optimizer)
    scope.phase = Phase.OPTIMIZER
    try:
        with torch.no_grad():
            shadow.step()
    finally:
        scope.phase = Phase.FORWARD


# -- shadows ---------------------------------------------------------------------------------
_PLAIN = (torch.Tensor, torch.nn.Parameter)   # not fake, DTensor, lazy or quantised subclasses


_META = torch.device("meta")


def _twin(tensor: torch.Tensor) -> torch.Tensor:
    """A meta tensor of ``tensor``'s shape, strides, dtype, type and ``requires_grad``."""
    if tensor.is_contiguous():   # empty_like keeps a dense tensor's strides, and is quicker
        shadow = torch.empty_like(tensor, device=_META)
    else:
        shadow = torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype,
                                     device=_META)
    # NB: by exact type (isinstance runs Parameter's Python __instancecheck__): can_shadow lets
    # only plain tensors and parameters through
    if type(tensor) is torch.nn.Parameter:   # what Parameter() does for a plain tensor
        return torch.Tensor._make_subclass(torch.nn.Parameter, shadow, tensor.requires_grad)
    return shadow.requires_grad_() if tensor.requires_grad else shadow


def can_shadow(model: Any, walk: Walk, positional: tuple, keyword: dict) -> bool:
    """Whether ``model`` can be counted on shadows: a torch module (no structure adapter) whose
    tensors are all plain and at least one of them real (a meta model needs none)."""
    if not isinstance(model, torch.nn.Module) or _adapter(model) is not None:
        return False
    real = False
    for tensor in all_tensors(walk, positional, keyword):
        if type(tensor) not in _PLAIN:
            return False
        real = real or not tensor.is_meta
    return real


def device_kernel(walk: Walk) -> str | None:
    """Why shadows would count the walked model differently from a real run, if they would: its
    recurrent layers run one fused kernel on the CPU (oneDNN) and on CUDA (cuDNN), which meta
    replaces by per-step matmuls."""
    # NB: the recurrent layers are the device-specific kernels known to change the count; other
    # device-dependent paths are replayed on shadows (flopwise.capture.stand_in)
    for module in walk.modules:
        if isinstance(module, torch.nn.RNNBase):
            return f"nn.{type(module).__name__} runs a device-specific fused kernel"
    return None


@contextlib.contextmanager
def shadowed(walk: Walk, positional: tuple, keyword: dict) -> Iterator[tuple[Walk, tuple, dict]]:
    """Swap meta shadows in for every parameter and buffer entry of the walked model's modules (one
    shadow per tensor, so tied weights stay tied) and yield the walk and inputs to run with;
    the original entries are put back on exit, also when the call raised. The model object,
    its modules, hooks and tensors (identity, ``requires_grad``, values) are not touched.

    >>> model = torch.nn.Linear(2, 3)
    >>> weight = model.weight
    >>> with shadowed(walk_model(model), (torch.ones(1, 2),), {}) as (walk, args, _):
    ...     model.weight.device.type, args[0].device.type, model(*args).shape
    ('meta', 'meta', torch.Size([1, 3]))
    >>> model.weight is weight
    True
    """
    twins: dict[int, torch.Tensor] = {}

    def twin(value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.is_meta:
            return value
        found = twins.get(id(value))
        if found is None:
            found = twins[id(value)] = _twin(value)
        return found

    try:
        for table, key, value in walk.entries:   # twin(value), inline: every entry is a tensor
            found = twins.get(id(value))
            if found is None:
                found = twins[id(value)] = value if value.is_meta else _twin(value)
            table[key] = found
        shadow_walk = Walk(walk.names, walk.nodes, [twin(p) for p in walk.params],
                           [twin(b) for b in walk.buffers], walk.modules)
        args, kwargs = torch.utils._pytree.tree_map(twin, (list(positional), keyword))
        yield shadow_walk, tuple(args), kwargs
    finally:
        for table, key, value in walk.entries:
            table[key] = value


def _reason(error: BaseException) -> str:
    """The first line of ``error``, for ``real (fallback: ...)``, at most 160 characters."""
    text = first_line(error)
    return text if len(text) <= 160 else text[:157] + "..."


# -- the counted run ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Capture:
    """What watches one run: the module scope, the counting mode, the memory tracker."""

    scope: ModuleScope
    mode: CountingMode
    tracker: MemoryTracker | None = None


@dataclass(frozen=True)
class Counted:
    """A counted run: what watched it, the inputs as the caller sees them (fake tensors with
    ``fake``; the real ones after a shadow run) and how it ran (``RunInfo.executed``)."""

    capture: Capture
    positional: tuple[Any, ...]
    keyword: dict[str, Any]
    executed: str


def run_counted(model: Any, walk: Walk, positional: tuple[Any, ...], keyword: dict[str, Any], *,
                capture: Callable[[], Capture], backward: bool = False,
                loss: Callable[[Any], torch.Tensor] | None = None,
                optimizer: torch.optim.Optimizer | None = None,
                execute: Execute = Execute.AUTO, fake: bool = False,
                distributed: DistributedRun | None = None) -> Counted:
    """One call of ``model`` (and its backward and optimizer step) under a fresh ``capture()``;
    the model's state is left as found.

    A real model is run on shadows (:func:`shadowed`) unless ``execute`` is ``always``, ``fake``
    is set, or it is distributed (DDP and FSDP need their real tensors); with ``auto``, a model
    with a device-specific kernel (:func:`device_kernel`) runs for real. If the shadow run
    raises (the model needs values), ``never`` raises :class:`~flopwise.UsageError` and
    ``auto`` runs the model for real under a second, fresh capture (observers of the first saw
    the abandoned run's ops too). A :class:`~flopwise.FlopwiseError` is never retried. With
    ``distributed`` (a process group is initialised), DDP's gradient sync is off for the run
    and the backward accumulates (:mod:`flopwise.distributed.engine`)."""
    execute = Execute(execute)
    shadow = (execute is not Execute.ALWAYS and not fake and distributed is None
              and can_shadow(model, walk, positional, keyword))
    reason = device_kernel(walk) if shadow and execute is Execute.AUTO else None
    if shadow and reason is None:
        try:
            device = next(t.device for t in all_tensors(walk, positional, keyword)
                          if not t.is_meta)
            with shadowed(walk, positional, keyword) as (shadow_walk, args, kwargs):
                watched = capture()
                _run(model, shadow_walk, args, kwargs, watched, backward, loss, optimizer,
                     False, None, StandIn(device))
            return Counted(watched, positional, keyword, SHADOW)
        except FlopwiseError:
            raise
        except Exception as error:
            if execute is Execute.NEVER:
                raise UsageError(
                    f"execute='never' but the model needs tensor values to run, which its "
                    f"shape-only shadows do not have ({_reason(error)}); pass execute='auto' "
                    "(--execute auto) to run it for real") from error
            reason = _reason(error)
    watched = capture()
    positional, keyword = _run(model, walk, positional, keyword, watched, backward, loss,
                               optimizer, fake, distributed, None)
    if fake:
        executed = "fake"
    elif mode_of(walk, positional, keyword) == "meta":
        executed = "meta"
    else:
        executed = executed_label(reason)
    return Counted(watched, positional, keyword, executed)


def _run(model: Any, walk: Walk, positional: tuple[Any, ...], keyword: dict[str, Any],
         watched: Capture, backward: bool, loss: Callable[[Any], torch.Tensor] | None,
         optimizer: torch.optim.Optimizer | None, fake: bool, distributed: DistributedRun | None,
         stand_in: StandIn | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The call itself, on whatever tensors it is given (shadows take ``stand_in``'s device
    paths); returns the inputs as run."""
    scope, mode, tracker = watched.scope, watched.mode, watched.tracker
    scope.stand_in = stand_in
    with preserved_state(walk.buffers):
        scope.install()
        try:
            with contextlib.ExitStack() as stack:
                if fake:
                    positional, keyword = enter_fake_mode(stack, positional, keyword)
                if backward:
                    stack.enter_context(torch.enable_grad())
                if tracker is not None:
                    stack.enter_context(tracker.tracking((walk.params, walk.buffers),
                                                         (positional, keyword)))
                if distributed is not None:
                    stack.enter_context(distributed.no_ddp_sync())
                if stand_in is not None:
                    stack.enter_context(stand_in)
                stack.enter_context(mode)
                output = model(*positional, **keyword)
                if backward:
                    run_backward(walk, output, positional, keyword, loss, scope,
                                 accumulate=distributed is not None)
                if optimizer is not None:
                    if tracker is not None:
                        tracker.pause()        # the step runs on meta shadows; sized apart
                    run_optimizer_step(optimizer, scope)
        finally:
            scope.remove()
    return positional, keyword


def resized_inputs(args: tuple[Any, ...], kwargs: Mapping[str, Any], batch: int,
                   meta: bool) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The inputs with every tensor of the first tensor's batch size resized to ``batch``
    (zeros; on ``meta`` when ``meta``, else real, to be run under fake tensors).

    >>> args, _ = resized_inputs((torch.ones(2, 3), torch.ones(5)), {}, 8, meta=True)
    >>> [tuple(t.shape) for t in args], args[0].device.type
    ([(8, 3), (5,)], 'meta')
    """
    from torch.utils._pytree import tree_map

    tensors = [t for t in tree_leaves((list(args), dict(kwargs))) if isinstance(t, torch.Tensor)]
    if not tensors or tensors[0].ndim == 0:
        raise UsageError("the inputs have no batch dimension")
    original = tensors[0].shape[0]

    def resize(value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.ndim == 0 or value.shape[0] != original:
            return value
        shape = (batch, *value.shape[1:])
        if meta:
            return torch.empty(shape, dtype=value.dtype, device="meta")
        return torch.zeros(shape, dtype=value.dtype, device=value.device)

    new_args, new_kwargs = tree_map(resize, (list(args), dict(kwargs)))
    return tuple(new_args), new_kwargs
