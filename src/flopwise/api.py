"""``flopwise.profile``: run a model once under the counting mode and build a :class:`Report`.

This module orchestrates; formulas live in :mod:`flopwise.formulas`, rendering in
:mod:`flopwise.render`.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

from flopwise._version import __version__
from flopwise.capture.events import Phase
from flopwise.capture.mode import CountingMode, Observer
from flopwise.capture.scope import ModuleScope
from flopwise.capture.shadow import shadow_optimizer
from flopwise.conventions import DEFAULT_CONVENTION, Convention, get_convention
from flopwise.errors import UnsupportedOpsError, UsageError
from flopwise.formulas import builtin_registry
from flopwise.formulas.registry import FormulaRegistry
from flopwise.memory.report import build_memory_report
from flopwise.memory.tracker import MemoryTracker
from flopwise.report import Report, RunInfo
from flopwise.tree import ModuleNode, ModuleTree

__all__ = ["profile"]


def profile(
    model: torch.nn.Module | Callable[..., Any],
    inputs: Any = (),
    kwargs: Mapping[str, Any] | None = None,
    *,
    backward: bool = False,
    loss: Callable[[Any], torch.Tensor] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    convention: str | Convention = DEFAULT_CONVENTION,
    fake: bool = False,
    strict: bool = False,
    registry: FormulaRegistry | None = None,
    observers: tuple[Observer, ...] = (),
    name: str | None = None,
    memory: bool = False,
) -> Report:
    """Count what one call of ``model`` costs, per module and per operator.

    Args:
        model: an ``nn.Module`` (or any callable) on a real device or on ``meta``. A
            ``torch.compile``-d module is profiled through the module it wraps (eagerly, under
            its own names): the arithmetic is the model's, whatever the compiler fuses.
        inputs: a tensor or a tuple of positional inputs; any other value (a list of images
            for a detection model, a dict) is passed as the one positional input.
        kwargs: keyword inputs (e.g. ``{"input_ids": ids}``).
        backward: also run the backward pass (``output.sum()``, or ``loss(output)``) and count
            it as measured, op by op. Gradients are computed with ``torch.autograd.grad``, so no
            ``.grad`` of the model is touched.
        loss: turns the model's output into the scalar to differentiate.
        optimizer: with ``backward=True``, also count one step of this optimizer's algorithm
            and hyper-parameters, run on shadow copies (the model's parameters never change).
        convention: how FLOPs are counted (``standard``, ``matmul``, ``macs``, ``exact``);
            change it later with ``report.using(...)``.
        fake: run a real model under fake tensors: shapes flow, nothing is computed.
        strict: raise :class:`~flopwise.UnsupportedOpsError` if any op has no formula.
        registry: formulas to use (``flopwise.default_registry()`` copies the built-in one).
        observers: extra watchers of every op (see :class:`flopwise.capture.mode.Observer`).
        memory: also simulate tensor lifetimes and record what autograd saves for backward
            (saved-tensor hooks installed for the run only), giving ``report.memory`` (see
            :mod:`flopwise.memory`). Costs are the same either way; the hooks change which
            zero-cost ``aten.detach`` calls autograd makes for its own bookkeeping.
        name: the label reports show for the model (default: its class or function name).

    Returns:
        A :class:`~flopwise.Report`. Exceptions raised by the model propagate unchanged, and the
        model (parameters, buffers, hooks, flags), grad mode and torch's RNG are left as found.

    Example:
        >>> import torch, flopwise
        >>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
        >>> report = flopwise.profile(model, torch.randn(4, 8))
        >>> report.total.macs                      # 4·8·16 + 4·16·2
        640
        >>> report.module("0").macs
        512
        >>> report.using("macs").total.flops
        640
    """
    chosen = get_convention(convention)
    if optimizer is not None and not backward:
        raise UsageError("optimizer= needs backward=True: a step needs gradients")
    positional = _as_tuple(inputs)
    keyword = dict(kwargs or {})
    model = _uncompiled(model)
    walk = _walk(model)
    nodes = walk.nodes
    scope = ModuleScope(walk.names)
    tracker = MemoryTracker(scope) if memory else None
    mode = CountingMode(registry or builtin_registry(), scope,
                        (*observers, tracker) if tracker is not None else tuple(observers))

    with _preserved_state(walk.buffers):
        scope.install()
        try:
            with contextlib.ExitStack() as stack:
                if fake:
                    positional, keyword = _enter_fake_mode(stack, positional, keyword)
                if backward:
                    stack.enter_context(torch.enable_grad())
                if tracker is not None:
                    stack.enter_context(tracker.tracking((walk.params, walk.buffers),
                                                         (positional, keyword)))
                stack.enter_context(mode)
                output = model(*positional, **keyword)
                if backward:
                    _run_backward(walk, output, positional, keyword, loss, scope)
                if optimizer is not None:
                    if tracker is not None:
                        tracker.pause()        # the step runs on meta shadows; sized apart
                    _run_optimizer_step(optimizer, scope)
        finally:
            scope.remove()

    for node in nodes:
        node.calls = scope.calls.get(node.name, 0)
        node.output_bytes = scope.output_bytes.get(node.name, 0)
    tree = ModuleTree(nodes, mode.events)
    report = Report(
        tree=tree,
        events=tuple(mode.events),
        convention=chosen,
        run=RunInfo(
            model=name or _label(model),
            mode="fake" if fake else _mode_of(walk, positional, keyword),
            device=_device_of(walk, positional, keyword),
            inputs=tuple(tuple(t.shape) for t in tree_leaves((positional, keyword))
                         if isinstance(t, torch.Tensor)),
            input_dtypes=tuple(str(t.dtype).removeprefix("torch.")
                               for t in tree_leaves((positional, keyword))
                               if isinstance(t, torch.Tensor)),
            backward=backward,
            optimizer=type(optimizer).__name__ if optimizer is not None else None,
            torch_version=torch.__version__,
            flopwise_version=__version__,
        ),
        param_bytes=_bytes_by_dtype(walk.params),
        buffer_bytes=_bytes_by_dtype(walk.buffers),
        decomposed=dict(mode.decomposed),
        formula_errors=mode.formula_errors,
    )
    if tracker is not None:
        report = report.with_section(build_memory_report(
            tracker.trace(), model, tree_leaves((positional, keyword)), training=backward,
            optimizer=optimizer, names=[node.name for node in nodes]))
    if strict and report.unsupported:
        raise UnsupportedOpsError(report.unsupported)
    return report


# -- inputs and model structure ---------------------------------------------------------------
def _uncompiled(model: Any) -> Any:
    """The module a ``torch.compile`` wrapper (``OptimizedModule``) holds, else ``model``."""
    inner = getattr(model, "_orig_mod", None)
    if type(model).__name__ == "OptimizedModule" and isinstance(inner, torch.nn.Module):
        return inner
    return model


def _label(model: Any) -> str:
    if isinstance(model, torch.nn.Module):
        return type(model).__name__
    return str(getattr(model, "__name__", type(model).__name__))


def _as_tuple(inputs: Any) -> tuple[Any, ...]:
    """A tuple is the positional inputs; anything else (a tensor, a list, a dict) is the one
    input: torchvision's detection models take a list of images as their single argument."""
    if isinstance(inputs, tuple):
        return inputs
    return (inputs,)


@dataclass
class _Walk:
    """The model's structure, read in one walk: module names, tree nodes, unique tensors."""

    names: dict[int, str] = field(default_factory=dict)
    nodes: list[ModuleNode] = field(default_factory=lambda: [ModuleNode("", "function")])
    params: list[torch.Tensor] = field(default_factory=list)
    buffers: list[torch.Tensor] = field(default_factory=list)


def _walk(model: Any) -> _Walk:
    """Names, nodes (each module's own first-owner parameter counts), parameters, buffers.

    Keras models are named by their layers (:func:`flopwise.keras.keras_structure`).
    """
    from flopwise.keras import is_keras_model

    if is_keras_model(model):
        from flopwise.keras import keras_structure

        names, nodes = keras_structure(model)
        return _Walk(names, nodes, _unique(model.parameters()), _unique(model.buffers()))
    if not isinstance(model, torch.nn.Module):
        return _Walk()
    walk = _Walk(nodes=[])
    params: dict[int, torch.Tensor] = {}
    buffers: dict[int, torch.Tensor] = {}
    for name, module in model.named_modules():
        walk.names[id(module)] = name
        node = ModuleNode(name, type(module).__name__)
        for param in module._parameters.values():
            if param is None or id(param) in params:
                continue
            params[id(param)] = param
            node.own_params += param.numel()
            node.own_trainable += param.numel() if param.requires_grad else 0
        for buffer in module._buffers.values():
            if buffer is not None:
                buffers.setdefault(id(buffer), buffer)
        walk.nodes.append(node)
    walk.params, walk.buffers = list(params.values()), list(buffers.values())
    return walk


def _unique(tensors: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    return list({id(tensor): tensor for tensor in tensors}.values())


def _bytes_by_dtype(tensors: list[torch.Tensor]) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for tensor in tensors:
        totals[str(tensor.dtype).removeprefix("torch.")] += tensor.numel() * tensor.element_size()
    return dict(totals)


def _all_tensors(walk: _Walk, positional: tuple, keyword: dict) -> Iterator[torch.Tensor]:
    yield from walk.params
    yield from walk.buffers
    for leaf in tree_leaves((positional, keyword)):
        if isinstance(leaf, torch.Tensor):
            yield leaf


def _mode_of(walk: _Walk, positional: tuple, keyword: dict) -> str:
    if any(t.is_meta for t in _all_tensors(walk, positional, keyword)):
        return "meta"
    return "real"


def _device_of(walk: _Walk, positional: tuple, keyword: dict) -> str:
    for tensor in _all_tensors(walk, positional, keyword):
        return str(tensor.device)
    return "cpu"


# -- leaving everything as found ------------------------------------------------------------
@contextlib.contextmanager
def _preserved_state(buffers: list[torch.Tensor]) -> Iterator[None]:
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


def _enter_fake_mode(stack: contextlib.ExitStack, positional: tuple,
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
def _loss_of(output: Any) -> torch.Tensor:
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


def _run_backward(walk: _Walk, output: Any, positional: tuple, keyword: dict,
                  loss: Callable[[Any], torch.Tensor] | None, scope: ModuleScope) -> None:
    value = loss(output) if loss is not None else _loss_of(output)
    leaves = [t for t in _all_tensors(walk, positional, keyword)
              if t.requires_grad and t.grad_fn is None]
    if not leaves or not value.requires_grad:
        raise UsageError(
            "backward=True but nothing requires grad: make parameters or inputs require grad"
        )
    scope.phase = Phase.BACKWARD
    try:
        torch.autograd.grad(value, leaves, allow_unused=True)
    finally:
        scope.phase = Phase.FORWARD


def _run_optimizer_step(optimizer: torch.optim.Optimizer, scope: ModuleScope) -> None:
    """One step of the optimizer's algorithm on meta shadows of its parameters."""
    shadow = shadow_optimizer(optimizer)
    scope.phase = Phase.OPTIMIZER
    try:
        with torch.no_grad():
            shadow.step()
    finally:
        scope.phase = Phase.FORWARD
