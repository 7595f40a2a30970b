"""Helpers shared by the core tests: run a function under the counter, sum events by op."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

import flopwise
from flopwise.formulas import builtin_registry
from flopwise.formulas.spec import ZERO_COST, Cost, TensorSpec


def S(*shape: int, dtype: str = "float32", itemsize: int = 4) -> TensorSpec:
    """A tensor spec, for calling a formula directly."""
    return TensorSpec(tuple(shape), dtype, itemsize)


def summed(report: flopwise.Report, ops: tuple[str, ...], phase: str | None = None) -> Cost:
    """The raw cost of the events whose op is one of ``ops`` (packet names like aten.mm)."""
    total = ZERO_COST
    for event in report.events:
        packet = event.op.rpartition(".")[0]
        if (packet in ops or event.op in ops) and (phase is None or event.phase.value == phase):
            total = total + event.cost
    return total


def seen_ops(report: flopwise.Report) -> set[str]:
    return {e.op.rpartition(".")[0] for e in report.events} | {e.op for e in report.events}


def formula_cost(key: str, result: Any, *args: Any, **kwargs: Any) -> Cost:
    entry = builtin_registry().lookup(key)
    assert entry is not None and entry.formula is not None, key
    return entry.formula(result, *args, **kwargs)


@dataclass
class Run:
    """An end-to-end case: run ``fn(*make())`` under the counter; the ``ops`` must appear and
    their summed raw cost must match ``expect`` (field name -> hand-derived int)."""

    id: str
    fn: Callable[..., Any]
    make: Callable[[], tuple]
    ops: tuple[str, ...]
    expect: dict[str, int]
    backward: bool = False
    phase: str | None = None
    no_grad: bool = False
    extra: dict = field(default_factory=dict)


@dataclass
class Direct:
    """A direct formula case: call the registered formula of each key with these specs."""

    id: str
    keys: tuple[str, ...]
    result: Any
    args: tuple
    expect: dict[str, int]
    kwargs: dict = field(default_factory=dict)


def check_run(case: Run) -> None:
    inputs = case.make()
    if case.no_grad:
        with torch.no_grad():
            report = flopwise.profile(case.fn, inputs, backward=case.backward)
    else:
        report = flopwise.profile(case.fn, inputs, backward=case.backward)
    assert report.formula_errors == {}
    missing = set(case.ops) - seen_ops(report)
    assert not missing, f"ops not seen: {missing}; seen {sorted(seen_ops(report))}"
    cost = summed(report, case.ops, case.phase)
    got = {name: getattr(cost, name) for name in case.expect}
    assert got == case.expect


def check_direct(case: Direct) -> None:
    for key in case.keys:
        cost = formula_cost(key, case.result, *case.args, **case.kwargs)
        got = {name: getattr(cost, name) for name in case.expect}
        assert got == case.expect, key


def covered(*tables: list) -> set[str]:
    keys: set[str] = set()
    for table in tables:
        for case in table:
            keys.update(case.ops if isinstance(case, Run) else case.keys)
    return keys
