"""``ThroughputCallback`` for the Hugging Face ``Trainer``: ``tflops``, ``mfu``, ``hfu``,
``tokens_per_second`` and ``samples_per_second`` added to the Trainer's logs, from the counted
FLOPs of each step (a thin adapter over :class:`flopwise.Throughput`).

The Trainer's callbacks never see the batch, so at ``on_step_begin`` the callback puts a one-shot
forward pre-hook on the model; the step's first forward call hands the batch (the keyword inputs
the Trainer passes) to the monitor and removes the hook. The clock runs from that call to
``on_step_end`` (forward, backward, optimizer step); a new batch shape is counted before it
starts. Each log gets the figures over the timed steps since the previous log, and
``flops_convention``. With ``replace_total_flos=True`` the Trainer's ``total_flos`` (its
6 · parameters · tokens estimate) becomes the counted sum whenever the Trainer logs.

>>> from flopwise.integrations.transformers import ThroughputCallback
>>> ThroughputCallback(peak_flops_per_s=1e12).monitor is None    # made when training starts
True
"""

from __future__ import annotations

from typing import Any

import torch

from flopwise.errors import MissingExtraError, UsageError
from flopwise.throughput import Throughput

try:
    from transformers import TrainerCallback
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("transformers", "hf", "the Hugging Face throughput callback") from error

__all__ = ["ThroughputCallback"]


class ThroughputCallback(TrainerCallback):
    """Keyword arguments are those of :class:`flopwise.Throughput` (``hardware``,
    ``peak_flops_per_s``, ``dtype``, ``convention``, ``warmup_steps``, ...); the model and
    optimizer come from the Trainer. ``monitor`` holds the :class:`~flopwise.Throughput` once
    training has started."""

    def __init__(self, *, replace_total_flos: bool = False, **settings: Any) -> None:
        for taken in ("model", "optimizer", "inputs"):
            if taken in settings:
                raise UsageError(f"ThroughputCallback takes the {taken} from the Trainer; drop {taken}=")
        self.replace_total_flos = replace_total_flos
        self.settings = settings
        self.monitor: Throughput | None = None
        self._hook: Any = None
        self._logged = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                       optimizer: Any = None, **kwargs: Any) -> None:
        if args.gradient_accumulation_steps != 1:
            raise UsageError(
                "ThroughputCallback counts one optimizer step per batch, but "
                f"gradient_accumulation_steps={args.gradient_accumulation_steps}; set it to 1")
        inner = getattr(optimizer, "optimizer", optimizer)   # accelerate wraps the optimizer
        self.monitor = Throughput(model, optimizer=inner, **self.settings)
        self._logged = 0

    def on_step_begin(self, args: Any, state: Any, control: Any, model: Any = None,
                      **kwargs: Any) -> None:
        self._unhook()
        self._hook = model.register_forward_pre_hook(self._first_forward, with_kwargs=True)

    def _first_forward(self, module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        self._unhook()
        if args:
            raise UsageError("ThroughputCallback expects the Trainer's keyword inputs, "
                             f"got {len(args)} positional input(s); call the model with keywords")
        assert self.monitor is not None
        self.monitor.start(dict(kwargs))

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._unhook()
        if self.monitor is not None and self.monitor.is_open:
            self.monitor.stop()

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,
               **kwargs: Any) -> None:
        if self.monitor is None or logs is None:
            return
        added = self._figures()
        if self.replace_total_flos:
            state.total_flos = sum(record.model_flops for record in self.monitor.records)
            if "total_flos" in logs:
                added["total_flos"] = state.total_flos
        logs.update(added)
        # the Trainer appended a copy of these logs to log_history just before calling us
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(added)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._unhook()
        if self.monitor is not None:
            self.monitor.cancel()

    def _figures(self) -> dict[str, Any]:
        """The rates over the timed steps since the previous log (none: nothing to add)."""
        assert self.monitor is not None
        records = self.monitor.records
        fresh = sum(1 for record in records[self._logged:] if not record.warmup)
        self._logged = len(records)
        if not fresh:
            return {}
        summary = self.monitor.summary(window=fresh)
        figures: dict[str, Any] = {"tflops": summary.tflops_per_s, "mfu": summary.mfu,
                                   "hfu": summary.hfu, "samples_per_second": summary.samples_per_s,
                                   "flops_convention": summary.convention}
        if summary.tokens_per_s is not None:
            figures["tokens_per_second"] = summary.tokens_per_s
        return figures

    def _unhook(self) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
