"""The Hugging Face callback in a real ``transformers.Trainer`` on a tiny GPT (CPU, data made here,
no reporting integrations, output in tmp_path)."""

from __future__ import annotations

import pytest
import torch
from transformers import Trainer, TrainingArguments

import flopwise
from flopwise.integrations.transformers import ThroughputCallback
from tests._tiny_gpt import VOCAB, hf_six_n_flops, hooks_left, tiny_gpt, training_step_flops

PEAK = 1e12
SIZE, LENGTH = 4, 16


def rows(count: int) -> list[dict[str, torch.Tensor]]:
    ids = torch.randint(0, VOCAB, (count, LENGTH), generator=torch.Generator().manual_seed(0))
    return [{"input_ids": row, "labels": row} for row in ids]


def train(tmp_path, steps: int, callback: ThroughputCallback):
    model = tiny_gpt()
    arguments = TrainingArguments(
        output_dir=str(tmp_path), max_steps=steps, per_device_train_batch_size=SIZE,
        logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True,
        dataloader_num_workers=0, seed=0)
    trainer = Trainer(model=model, args=arguments, train_dataset=rows(SIZE * steps),
                      callbacks=[callback])
    hooks_before = hooks_left(model)
    trainer.train()
    assert hooks_left(model) == hooks_before
    return trainer


def test_hf_trainer_logs_counted_tflops_mfu_and_tokens(tmp_path):
    steps = 4
    callback = ThroughputCallback(peak_flops_per_s=PEAK, warmup_steps=1)
    trainer = train(tmp_path, steps, callback)
    expected = training_step_flops(SIZE, LENGTH)
    batch = {key: torch.stack([row[key] for row in rows(SIZE)]) for key in ("input_ids", "labels")}
    optimizer = getattr(trainer.optimizer, "optimizer", trainer.optimizer)
    profiled = flopwise.profile(trainer.model, kwargs=batch, backward=True, optimizer=optimizer,
                                convention="matmul")
    assert profiled.total.flops == expected

    records = callback.monitor.records
    assert len(records) == steps
    assert all(r.model_flops == expected for r in records)
    assert [r.counted for r in records] == [True] + [False] * (steps - 1)
    step_logs = [entry for entry in trainer.state.log_history if "loss" in entry]
    assert [entry["step"] for entry in step_logs] == list(range(1, steps + 1))
    assert "mfu" not in step_logs[0]                       # the warm-up step is not timed
    for entry, record in zip(step_logs[1:], records[1:]):  # one step per log
        assert entry["mfu"] == expected / record.time_s / PEAK
        assert entry["tflops"] == expected / record.time_s / 1e12
        assert entry["tokens_per_second"] == SIZE * LENGTH / record.time_s
        assert entry["flops_convention"] == "matmul"

    # the Trainer's own count: 6 · non-embedding parameters · tokens, left as it is
    assert trainer.state.total_flos == steps * hf_six_n_flops(SIZE, LENGTH)
    ratio = expected / hf_six_n_flops(SIZE, LENGTH)
    # 3·(2·(12·32²·64 + 2·4·16²·32) + 2·64·32·64) = 11010048 counted, against
    # 6·(2·(12·32² + 13·32) + 2·32)·64 = 9781248: the attention scores and the LM head
    assert ratio == 11010048 / 9781248                    # ≈ 1.126, see docs/monitor.md


def test_hf_trainer_total_flos_replaced_by_the_count(tmp_path):
    callback = ThroughputCallback(peak_flops_per_s=PEAK, warmup_steps=0, replace_total_flos=True)
    trainer = train(tmp_path, 2, callback)
    counted = 2 * training_step_flops(SIZE, LENGTH)
    assert trainer.state.total_flos == counted
    assert trainer.state.log_history[-1]["total_flos"] == counted


def test_gradient_accumulation_is_refused_in_one_line(tmp_path):
    arguments = TrainingArguments(
        output_dir=str(tmp_path), max_steps=1, per_device_train_batch_size=SIZE, report_to="none",
        save_strategy="no", use_cpu=True, disable_tqdm=True, gradient_accumulation_steps=2)
    trainer = Trainer(model=tiny_gpt(), args=arguments, train_dataset=rows(2 * SIZE),
                      callbacks=[ThroughputCallback(peak_flops_per_s=PEAK)])
    with pytest.raises(flopwise.UsageError, match="gradient_accumulation_steps=2; set it to 1"):
        trainer.train()
