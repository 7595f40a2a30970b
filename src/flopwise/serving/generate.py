"""``profile_generate``: count a real ``model.generate(...)`` call and split it into its steps.

``generate()`` calls the model's forward once per step: the prefill over the prompt, then one
decode step per further token. Every op is counted as in :func:`flopwise.profile`; a
forward pre-hook (registered for the call only, global, never on the model) marks where each
forward starts, and every op up to the next one (the forward, then ``generate``'s own logits
processing and token selection) belongs to that step. The ops before the first forward are
``setup``. So ``setup + Σ steps`` is the report's total, op for op.

>>> import torch, flopwise
>>> from transformers import AutoConfig, AutoModelForCausalLM
>>> config = AutoConfig.for_model("llama", hidden_size=32, intermediate_size=64,
...     num_hidden_layers=1, num_attention_heads=2, vocab_size=50)
>>> model = AutoModelForCausalLM.from_config(config).eval()
>>> trace = flopwise.profile_generate(model, torch.zeros(1, 5, dtype=torch.long),
...     max_new_tokens=4, min_new_tokens=4, do_sample=False)
>>> [(step.tokens, step.context) for step in trace.steps]
[(5, 5), (1, 6), (1, 7), (1, 8)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from flopwise.capture.events import OpEvent
from flopwise.conventions import DEFAULT_CONVENTION, Convention
from flopwise.report import Report, summed

__all__ = ["GenerateStep", "GenerateTrace", "profile_generate"]


@dataclass(frozen=True)
class GenerateStep:
    """One forward of ``generate()``: ``tokens`` fed (the prompt, then 1), ``context`` keys the
    last of them attends to; MACs and FLOPs of the model's forward and of everything until
    the next forward (``other_*``: logits processing, token choice, bookkeeping)."""

    index: int
    tokens: int
    context: int
    forward_macs: int
    forward_flops: int
    other_macs: int
    other_flops: int

    @property
    def flops(self) -> int:
        return self.forward_flops + self.other_flops

    @property
    def macs(self) -> int:
        return self.forward_macs + self.other_macs


@dataclass(frozen=True)
class GenerateTrace:
    """The counted ``generate()`` call: its full report, and the same ops by step."""

    report: Report
    setup_flops: int
    setup_macs: int
    steps: tuple[GenerateStep, ...]

    @property
    def prefill(self) -> GenerateStep:
        return self.steps[0]

    @property
    def decode(self) -> tuple[GenerateStep, ...]:
        return self.steps[1:]


class _Generating(torch.nn.Module):
    """Calls ``generate`` on the wrapped model (the model itself is not changed)."""

    def __init__(self, model: torch.nn.Module, input_ids: torch.Tensor, options: dict[str, Any]):
        super().__init__()
        self.model = model
        self._call = (input_ids, options)

    def forward(self) -> Any:
        input_ids, options = self._call
        model: Any = self.model
        return model.generate(input_ids, **options)


class _StepMarks:
    """Observer and forward pre-hook together: which step each op event belongs to."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.step = -1
        self.step_of: dict[int, int] = {}

    def on_op(self, op: str, args: tuple, kwargs: dict, out: Any, event: OpEvent) -> None:
        self.step_of[id(event)] = self.step

    def pre_hook(self, module: torch.nn.Module, args: Any) -> None:
        if module is self.model:
            self.step += 1


def _cost(report: Report, events: Iterable[OpEvent]) -> tuple[int, int]:
    cost = summed(events)
    return cost.macs, report.flops_of(cost)


def _split(report: Report, marks: _StepMarks, prompt: int) -> GenerateTrace:
    by_step: dict[int, list[OpEvent]] = {}
    for event in report.events:
        by_step.setdefault(marks.step_of[id(event)], []).append(event)
    setup_macs, setup_flops = _cost(report, by_step.get(-1, []))
    steps = []
    for index in range(marks.step + 1):
        events = by_step.get(index, [])
        inside = [e for e in events if e.module == "model" or e.module.startswith("model.")]
        outside = [e for e in events if not (e.module == "model" or e.module.startswith("model."))]
        forward_macs, forward_flops = _cost(report, inside)
        other_macs, other_flops = _cost(report, outside)
        steps.append(GenerateStep(index, prompt if index == 0 else 1, prompt + index,
                                  forward_macs, forward_flops, other_macs, other_flops))
    return GenerateTrace(report, setup_flops, setup_macs, tuple(steps))


def profile_generate(model: torch.nn.Module, input_ids: torch.Tensor, *,
                     convention: str | Convention = DEFAULT_CONVENTION,
                     name: str | None = None, **generate_options: Any) -> GenerateTrace:
    """Count ``model.generate(input_ids, **generate_options)`` and split it into steps.

    ``generate`` needs values (it picks tokens), so the model runs for real: a small model on
    CPU. Module names in the report are prefixed ``model.``.
    """
    import flopwise

    marks = _StepMarks(model)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(marks.pre_hook)
    try:
        # generation picks each token by value: a real run (shadows would fall back anyway)
        report = flopwise.profile(_Generating(model, input_ids, generate_options),
                                  convention=convention, observers=(marks,), execute="always",
                                  name=name or f"{type(model).__name__}.generate")
    finally:
        handle.remove()
    return _split(report, marks, int(input_ids.shape[1]))
