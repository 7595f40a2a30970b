"""The throughput monitor on a real plain training loop of a tiny GPT (CPU, no downloads)."""

from __future__ import annotations

import pytest
import torch

import flopwise
from flopwise.hardware import get_accelerator
from tests._tiny_gpt import (
    batch,
    block_forward_flops,
    hooks_left,
    tiny_gpt,
    training_step_flops,
)

PEAK = 1e12     # a made-up peak, FLOP/s: MFU is then FLOP/s ÷ 10¹²


def train(monitor, model, optimizer, batches, context=None):
    for step_batch in batches:
        with monitor.step(step_batch):
            if context is not None:
                with context():
                    loss = model(**step_batch).loss
            else:
                loss = model(**step_batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()


def test_plain_loop_flops_equal_profile_of_the_step_and_mfu_is_flops_over_time_over_peak():
    model = tiny_gpt()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    hooks_before = hooks_left(model)
    monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=PEAK, warmup_steps=1)
    batches = [batch(4, 16, seed) for seed in range(3)] + [batch(2, 24, 3)]
    train(monitor, model, optimizer, batches)

    records = monitor.records
    for step_batch, record in zip(batches, records):
        profiled = flopwise.profile(model, kwargs=step_batch, backward=True, optimizer=optimizer,
                                    convention="matmul")
        assert record.model_flops == profiled.total.flops
        assert record.model_flops == training_step_flops(*step_batch["input_ids"].shape)
        assert record.hardware_flops == record.model_flops      # nothing recomputed
        assert record.mfu == record.model_flops / (record.end_s - record.start_s) / PEAK
    # counted once per shape: the first batch and the one whose shape changed
    assert [r.counted for r in records] == [True, False, False, True]
    assert [r.warmup for r in records] == [True, False, False, False]
    assert hooks_left(model) == hooks_before

    summary = monitor.summary()
    timed = records[1:]
    assert summary.steps == 3
    assert summary.samples == 4 + 4 + 2
    assert summary.tokens == 4 * 16 * 2 + 2 * 24
    assert summary.model_flops == 2 * training_step_flops(4, 16) + training_step_flops(2, 24)
    assert summary.time_s == sum(r.end_s - r.start_s for r in timed)
    assert summary.mfu == summary.model_flops / summary.time_s / PEAK
    assert summary.convention == "matmul"
    metrics = monitor.metrics()
    assert metrics["tflops"] == records[-1].model_flops / records[-1].time_s / 1e12
    assert metrics["tokens_per_second"] == 2 * 24 / records[-1].time_s
    assert monitor.summary(window=1).model_flops == training_step_flops(2, 24)


def test_recomputation_counts_in_hfu_not_in_mfu():
    model = tiny_gpt()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=PEAK, warmup_steps=0)
    train(monitor, model, optimizer, [batch(2, 16)])
    record = monitor.last
    assert record.model_flops == training_step_flops(2, 16)
    # every block's forward runs again during backward
    assert record.hardware_flops - record.model_flops == block_forward_flops(2, 16)


def test_peak_comes_from_the_catalogue_for_the_dtype_that_carries_the_flops():
    model = tiny_gpt()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    h100 = get_accelerator("h100-sxm")
    monitor = flopwise.Throughput(model, optimizer=optimizer, hardware="h100-sxm", warmup_steps=0)
    train(monitor, model, optimizer, [batch(2, 8)])
    assert monitor.last.peak_flops_per_s == h100.peak_flops["fp32"]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        train(monitor, model, optimizer, [batch(2, 12)])
    assert monitor.last.peak_flops_per_s == h100.peak_flops["bf16"]


class UserBug(Exception):
    pass


def test_a_step_that_raises_is_not_recorded_and_the_error_propagates():
    model = tiny_gpt()
    monitor = flopwise.Throughput(model, peak_flops_per_s=PEAK)
    with pytest.raises(UserBug), monitor.step(batch(1, 4)):
        raise UserBug("the user's own step failed")
    assert monitor.records == ()
    with pytest.raises(flopwise.UsageError, match="no step recorded yet"):
        monitor.metrics()


def test_the_user_model_is_left_as_found():
    model = tiny_gpt()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=PEAK)
    monitor.count(batch(2, 8))
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert torch.equal(rng, torch.get_rng_state())
    assert optimizer.state == {} or all(not s for s in optimizer.state.values())
    assert model.training and torch.is_grad_enabled()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "no peak FLOP/s for a cpu device: pass hardware="),
    ({"hardware": "h100"}, "unknown hardware 'h100'"),
    ({"peak_flops_per_s": 0.0}, "must be a positive FLOP/s figure"),
    ({"peak_flops_per_s": PEAK, "warmup_steps": -1}, "warmup_steps=-1 is negative"),
], ids=["cpu-no-peak", "unknown-hardware", "zero-peak", "negative-warmup"])
def test_bad_settings_fail_in_one_line(kwargs, message):
    with pytest.raises(flopwise.UsageError, match=message):
        flopwise.Throughput(torch.nn.Linear(2, 2), **kwargs)


def test_summary_needs_a_timed_step():
    model = torch.nn.Linear(4, 2)
    monitor = flopwise.Throughput(model, peak_flops_per_s=PEAK, warmup_steps=1)
    with monitor.step(torch.randn(3, 4)):
        model(torch.randn(3, 4)).sum().backward()
    with pytest.raises(flopwise.UsageError, match="1 recorded, 1 of them warm-up"):
        monitor.summary()


class Routed(torch.nn.Module):
    """A data-dependent model: only the rows with a positive sum go through the expert."""

    def __init__(self) -> None:
        super().__init__()
        self.expert = torch.nn.Linear(8, 4, bias=False)

    def forward(self, x):
        return self.expert(x[x.sum(dim=1) > 0])


def test_real_counts_follow_each_batch_routing():
    model = Routed()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=PEAK,
                                  warmup_steps=0, fake=False, cache=False)
    batches = [torch.ones(6, 8), torch.cat([torch.ones(2, 8), -torch.ones(4, 8)])]
    for x in batches:
        with monitor.step(x):
            model(x).sum().backward()
            optimizer.step()
            optimizer.zero_grad()
    # rows routed · 8 · 4 MACs forward and as many for the weight gradient, 2 FLOPs each
    assert [r.model_flops for r in monitor.records] == [2 * 2 * 6 * 8 * 4, 2 * 2 * 2 * 8 * 4]
    assert [r.counted for r in monitor.records] == [True, True]


def test_a_dtype_the_hardware_lacks_fails_before_the_step_runs():
    model = torch.nn.Linear(4, 2)
    monitor = flopwise.Throughput(model, hardware="tpu-v4")
    ran = []
    with pytest.raises(flopwise.UsageError, match="tpu-v4 has no fp32 peak"), \
            monitor.step(torch.randn(3, 4)):
        ran.append(True)
    assert ran == [] and monitor.records == () and not monitor.is_open
