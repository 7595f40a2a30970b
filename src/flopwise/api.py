"""``flopwise.profile``: run a model once under the counting mode and build a :class:`Report`.

This module orchestrates; the run itself is :mod:`flopwise.capture.run`, formulas live in
:mod:`flopwise.formulas`, rendering in :mod:`flopwise.render`. It imports no framework
module (Keras models are walked through the adapter in ``capture.run.STRUCTURES``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils._pytree import tree_leaves

from flopwise._version import __version__
from flopwise.capture.execute import Execute, parse_execute
from flopwise.capture.mode import CountingMode, Observer
from flopwise.capture.run import (
    Capture,
    as_tuple,
    bytes_by_dtype,
    device_of,
    mode_of,
    model_label,
    run_counted,
    uncompiled,
    walk_model,
)
from flopwise.capture.scope import ModuleScope
from flopwise.conventions import DEFAULT_CONVENTION, Convention, get_convention
from flopwise.distributed.engine import distributed_run
from flopwise.errors import UnsupportedOpsError, UsageError
from flopwise.formulas import builtin_registry
from flopwise.formulas.registry import FormulaRegistry
from flopwise.memory.report import build_memory_report
from flopwise.memory.tracker import MemoryTracker
from flopwise.report import Report, RunInfo
from flopwise.tree import ModuleTree

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
    execute: Execute | str = Execute.AUTO,
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
        execute: how a real (cpu/cuda) model is counted: ``"auto"`` (default) on shape-only
            meta shadows of its parameters, buffers and inputs, swapped in for the call, so
            nothing is computed, and for real, once, only if its code needs values (then
            ``report.run.executed`` says ``real (fallback: <why>)``); ``"always"`` runs it for
            real (counts what depends on values, e.g. MoE routing of the real batch);
            ``"never"`` raises :class:`~flopwise.UsageError` instead of running it. See
            ``docs/counting.md``.
        fake: run a real model under fake tensors (torch's ``FakeTensorMode``) instead: shapes
            flow, nothing is computed; slower than the default shadows.
        strict: raise :class:`~flopwise.UnsupportedOpsError` if any op has no formula.
        registry: formulas to use (``flopwise.default_registry()`` copies the built-in one).
        observers: extra watchers of every op (see :class:`flopwise.capture.mode.Observer`).
            When a shadow run falls back to a real one, they have also seen the ops of the
            abandoned shadow run: pass ``execute="always"`` (or ``"never"``) to see one run.
        memory: also simulate tensor lifetimes and record what autograd saves for backward
            (saved-tensor hooks installed for the run only), giving ``report.memory`` (see
            :mod:`flopwise.memory`). Costs are the same either way; the hooks change which
            zero-cost ``aten.detach`` calls autograd makes for its own bookkeeping. Without
            ``backward`` a real run keeps no saved tensor alive (it holds what inference holds;
            the figures are the same), so a forward that differentiates itself needs
            ``backward=True``.
        name: the label reports show for the model (default: its class or function name).

    Returns:
        A :class:`~flopwise.Report`. Exceptions raised by the model propagate unchanged (with
        ``"auto"``, from its real run), and the model (parameters and buffers with their
        identity, values and ``requires_grad``, hooks, flags), grad mode and torch's RNG are left
        as found.

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
        >>> report.run.mode, report.run.executed   # a real model, counted on meta shadows
        ('real', 'shadow')
    """
    chosen = get_convention(convention)
    how = parse_execute(execute)
    if optimizer is not None and not backward:
        raise UsageError("optimizer= needs backward=True: a step needs gradients")
    positional = as_tuple(inputs)
    keyword = dict(kwargs or {})
    model = uncompiled(model)
    walk = walk_model(model)
    nodes = walk.nodes
    formulas = registry or builtin_registry()

    def capture() -> Capture:
        scope = ModuleScope(walk.names, backward=backward)
        tracker = MemoryTracker(scope, keep_saved=backward) if memory else None
        watchers = (*observers, tracker) if tracker is not None else tuple(observers)
        return Capture(scope, CountingMode(formulas, scope, watchers), tracker)

    distributed = distributed_run(model)
    counted = run_counted(model, walk, positional, keyword, capture=capture, backward=backward,
                          loss=loss, optimizer=optimizer, execute=how, fake=fake,
                          distributed=distributed)
    scope, mode, tracker = counted.capture.scope, counted.capture.mode, counted.capture.tracker
    positional, keyword = counted.positional, counted.keyword

    for node in nodes:
        node.calls = scope.calls.get(node.name, 0)
        node.output_bytes = scope.output_bytes.get(node.name, 0)
    if distributed is not None:
        mode.events.extend(distributed.bucket_events(backward))
    tree = ModuleTree(nodes, mode.events)
    report = Report(
        tree=tree,
        events=tuple(mode.events),
        convention=chosen,
        run=RunInfo(
            model=name or model_label(model),
            mode="fake" if fake else mode_of(walk, positional, keyword),
            device=device_of(walk, positional, keyword),
            inputs=tuple(tuple(t.shape) for t in tree_leaves((positional, keyword))
                         if isinstance(t, torch.Tensor)),
            input_dtypes=tuple(str(t.dtype).removeprefix("torch.")
                               for t in tree_leaves((positional, keyword))
                               if isinstance(t, torch.Tensor)),
            backward=backward,
            optimizer=type(optimizer).__name__ if optimizer is not None else None,
            torch_version=torch.__version__,
            flopwise_version=__version__,
            executed=counted.executed,
        ),
        param_bytes=bytes_by_dtype(walk.params),
        buffer_bytes=bytes_by_dtype(walk.buffers),
        decomposed=dict(mode.decomposed),
        formula_errors=mode.formula_errors,
    )
    if tracker is not None:
        report = report.with_section(build_memory_report(
            tracker.trace(), model, tree_leaves((positional, keyword)), training=backward,
            optimizer=optimizer, names=[node.name for node in nodes]))
    if distributed is not None:
        report = report.with_section(distributed.report(mode.events, walk.params))
    if strict and report.unsupported:
        raise UnsupportedOpsError(report.unsupported)
    return report
