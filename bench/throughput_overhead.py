"""Cost of the throughput monitor (issue 16, must-show 3), as ratios measured in one run.

    python bench/throughput_overhead.py [--steps 40]

On a tiny GPT-2 (2 layers, width 64, 4 × 64 tokens) trained with AdamW on CPU:

1. the monitor's overhead per step once the batch shape is cached: the time spent in
   ``start()`` + ``stop()`` (the only code it adds to a step) ÷ the step's time (target < 2 %);
   and, as a cross-check, the median monitored step ÷ the median plain step, the two interleaved;
2. the one-time counting cost of a new shape (a ``flopwise.profile`` on fake tensors with the
   backward pass and the optimizer) ÷ one plain step.

The machines are noisy: only the ratios within one run mean something.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

import flopwise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps of each kind (default 40)")
    steps = parser.parse_args().steps

    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=256, n_positions=64,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, 256, (4, 64))
    batch = {"input_ids": ids, "labels": ids}

    def train_step() -> None:
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    for _ in range(3):
        train_step()                                  # warm-up: allocator, optimizer state

    monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=1e12, warmup_steps=0)
    begin = time.perf_counter()
    monitor.count(batch)
    count_s = time.perf_counter() - begin
    with monitor.step(batch):                         # the shape is cached from here on
        train_step()

    plain: list[float] = []
    monitored: list[float] = []
    added: list[float] = []
    for _ in range(steps):
        begin = time.perf_counter()
        train_step()
        plain.append(time.perf_counter() - begin)

        begin = time.perf_counter()
        monitor.start(batch)
        inside = time.perf_counter()
        train_step()
        finish = time.perf_counter()
        monitor.stop()
        end = time.perf_counter()
        monitored.append(end - begin)
        added.append((inside - begin) + (end - finish))

    step_s = statistics.median(plain)
    print(f"tiny GPT-2 training step on CPU ({torch.get_num_threads()} threads), {steps} steps each")
    print(f"  plain step (median)                 {step_s * 1e3:9.3f} ms")
    print(f"  monitor start+stop per step (median){statistics.median(added) * 1e6:9.1f} µs")
    print(f"  overhead: start+stop ÷ step          {statistics.median(added) / step_s:9.4%}  (target < 2 %)")
    print(f"  monitored ÷ plain step (medians)     {statistics.median(monitored) / step_s:9.4f}×")
    print(f"  one-time count of a new shape        {count_s * 1e3:9.1f} ms = "
          f"{count_s / step_s:.1f} plain steps")
    print(f"  counted FLOPs per step (matmul)      {monitor.last.model_flops:,}")


if __name__ == "__main__":
    main()
