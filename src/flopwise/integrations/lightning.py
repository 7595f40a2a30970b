"""``ThroughputCallback`` for ``lightning.Trainer``: counted FLOPs, TFLOP/s, MFU and HFU per step,
logged through the trainer's loggers (a thin adapter over :class:`flopwise.Throughput`).

The step is timed from ``on_train_batch_start`` to ``on_train_batch_end`` (forward, backward and
optimizer step); the figures go to ``trainer.loggers`` as ``throughput/<name>`` every
``log_every_n_steps``, and the FLOP convention and hardware into their hyper-parameters. The FLOPs
of a new batch shape are counted before the clock starts, on the LightningModule called with the
batch (``module(**batch)`` for a dict, ``module(*batch)`` for a tuple; pass ``inputs=`` and
``loss=`` otherwise).

>>> from flopwise.integrations.lightning import ThroughputCallback
>>> ThroughputCallback(peak_flops_per_s=1e12).monitor is None    # made when training starts
True
"""

from __future__ import annotations

from typing import Any

from flopwise.errors import MissingExtraError, UsageError
from flopwise.throughput import Throughput

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("lightning", "lightning", "the Lightning throughput callback") from error

__all__ = ["ThroughputCallback"]

PREFIX = "throughput/"


class ThroughputCallback(Callback):
    """Logs ``throughput/tflops``, ``mfu``, ``hfu``, ``samples_per_second``,
    ``tokens_per_second`` and ``flops_per_step`` every training step.

    Keyword arguments are those of :class:`flopwise.Throughput` (``hardware``,
    ``peak_flops_per_s``, ``dtype``, ``inputs``, ``loss``, ``convention``, ``warmup_steps``, ...);
    the model and optimizer come from the trainer. ``monitor`` holds the
    :class:`~flopwise.Throughput` once training has started (its ``summary()`` at the end).
    """

    def __init__(self, **settings: Any) -> None:
        for taken in ("model", "optimizer"):
            if taken in settings:
                raise UsageError(f"ThroughputCallback takes the {taken} from the trainer; drop {taken}=")
        self.settings = settings
        self.monitor: Throughput | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.accumulate_grad_batches != 1:
            raise UsageError(
                f"ThroughputCallback counts one optimizer step per batch, but accumulate_grad_batches="
                f"{trainer.accumulate_grad_batches}; set it to 1 to measure throughput")
        optimizers = trainer.optimizers
        self.monitor = Throughput(pl_module, optimizer=optimizers[0] if len(optimizers) == 1 else None,
                                  **self.settings)
        facts = {"flopwise/convention": self.monitor.convention.name,
                 "flopwise/hardware": self.monitor.hardware_name}
        for logger in trainer.loggers:
            logger.log_hyperparams(facts)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any,
                             batch_idx: int) -> None:
        assert self.monitor is not None
        self.monitor.start(batch)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:
        assert self.monitor is not None
        self.monitor.stop()
        if trainer.global_step % getattr(trainer, "log_every_n_steps", 1):  # set at run time
            return
        metrics = {PREFIX + key: value for key, value in self.monitor.metrics().items()}
        for logger in trainer.loggers:     # floats as they are (self.log would make float32 tensors)
            logger.log_metrics(metrics, step=trainer.global_step)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule,
                     exception: BaseException) -> None:
        if self.monitor is not None:
            self.monitor.cancel()
