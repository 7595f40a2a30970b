"""The Lightning callback in a real ``lightning.Trainer`` on a tiny GPT (CPU, data made here)."""

from __future__ import annotations

import lightning
import pytest
import torch
from lightning.pytorch.callbacks import ThroughputMonitor
from lightning.pytorch.loggers import Logger

import flopwise
from flopwise.integrations.lightning import ThroughputCallback
from tests._tiny_gpt import VOCAB, hooks_left, tiny_gpt, training_step_flops

PEAK = 1e12
SIZE, LENGTH, STEPS = 4, 16, 5


class MemoryLogger(Logger):
    """Keeps what the trainer logs."""

    def __init__(self) -> None:
        super().__init__()
        self.metrics: list[tuple[int, dict[str, float]]] = []
        self.hyperparameters: dict[str, object] = {}

    name = "memory"
    version = "0"

    def log_metrics(self, metrics, step=None):
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        self.hyperparameters.update(params)

    def series(self, key):
        return [(step, values[key]) for step, values in self.metrics if key in values]


class TinyGPT(lightning.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.model = tiny_gpt()

    def forward(self, **batch):
        return self.model(**batch)

    def training_step(self, batch, batch_idx):
        return self(**batch).loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)

    @property
    def flops_per_batch(self):
        """What Lightning's ThroughputMonitor multiplies by: flopwise's count of this step."""
        callback = next(c for c in self.trainer.callbacks if isinstance(c, ThroughputCallback))
        return callback.monitor.last.model_flops


def loader():
    ids = torch.randint(0, VOCAB, (SIZE * STEPS, LENGTH), generator=torch.Generator().manual_seed(0))
    rows = [{"input_ids": row, "labels": row} for row in ids]
    return torch.utils.data.DataLoader(rows, batch_size=SIZE)


def test_lightning_trainer_logs_counted_flops_and_mfu_and_agrees_with_throughput_monitor(tmp_path):
    module = TinyGPT()
    callback = ThroughputCallback(peak_flops_per_s=PEAK, warmup_steps=1)
    logger = MemoryLogger()
    hooks_before = hooks_left(module)
    trainer = lightning.Trainer(
        max_steps=STEPS, accelerator="cpu", devices=1, logger=logger, log_every_n_steps=1,
        callbacks=[callback, ThroughputMonitor(batch_size_fn=lambda b: b["input_ids"].shape[0],
                                               window_size=2)],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path)
    trainer.fit(module, loader())

    expected = training_step_flops(SIZE, LENGTH)
    probe = next(iter(loader()))
    profiled = flopwise.profile(module, kwargs=probe, backward=True,
                                optimizer=trainer.optimizers[0], convention="matmul")
    assert profiled.total.flops == expected

    records = callback.monitor.records
    assert len(records) == STEPS
    assert [r.counted for r in records] == [True] + [False] * (STEPS - 1)
    logged = logger.series("throughput/flops_per_step")
    assert [step for step, _ in logged] == list(range(1, STEPS + 1))
    assert all(value == expected for _, value in logged)
    for (_, mfu), (_, time_s), record in zip(logger.series("throughput/mfu"),
                                             logger.series("throughput/step_time_s"), records):
        assert time_s == record.end_s - record.start_s
        assert mfu == expected / time_s / PEAK
    assert logger.hyperparameters["flopwise/convention"] == "matmul"
    assert hooks_left(module) == hooks_before

    # Lightning's ThroughputMonitor, given flopwise's FLOPs: its window of 2 is one batch's FLOPs
    # over the time between two batch ends (its own clock), so it matches flopwise's rate up to
    # the loop's time between batches (data loading, other callbacks), which only lowers it.
    # It numbers its logs from 0 (ours follow global_step, from 1): pair them in order.
    rates = [rate for _, rate in sorted(logger.series("train/device/flops_per_sec"))]
    ends = [time_s for _, time_s in sorted(logger.series("train/time"))]
    assert len(rates) == STEPS - 1 and len(ends) == STEPS
    for index, rate in enumerate(rates, start=1):
        assert rate == pytest.approx(expected / (ends[index] - ends[index - 1]))
        ours = expected / records[index].time_s
        assert 0.5 < rate / ours <= 1.0


def test_gradient_accumulation_is_refused_in_one_line(tmp_path):
    trainer = lightning.Trainer(
        max_steps=1, accelerator="cpu", devices=1, logger=False, accumulate_grad_batches=2,
        callbacks=[ThroughputCallback(peak_flops_per_s=PEAK)], enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    with pytest.raises(flopwise.UsageError, match="accumulate_grad_batches=2; set it to 1"):
        trainer.fit(TinyGPT(), loader())


def test_the_callback_takes_model_and_optimizer_from_the_trainer():
    with pytest.raises(flopwise.UsageError, match="takes the optimizer from the trainer"):
        ThroughputCallback(optimizer=None)
