"""One rank of the DDP test: a small MLP trained 3 steps under DDP (gloo, CPU), monitored.

Forked from a fork server that has imported torch, so a rank starts in milliseconds. Rank r
trains on batches of 8 // (r + 1) samples and claims a peak of (r + 1)·10¹² FLOP/s, so the sums
are not symmetric.
"""

from __future__ import annotations

import json

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import flopwise


def main(rank: int, world: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        torch.manual_seed(0)
        model = DistributedDataParallel(torch.nn.Sequential(
            torch.nn.Linear(16, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4)))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        monitor = flopwise.Throughput(model, optimizer=optimizer, peak_flops_per_s=(rank + 1) * 1e12,
                                      warmup_steps=1)
        for step in range(3):
            batch = torch.randn(8 // (rank + 1), 16, generator=torch.Generator().manual_seed(step))
            with monitor.step(batch):
                model(batch).square().mean().backward()
                optimizer.step()
                optimizer.zero_grad()
        local, whole = monitor.summary(), monitor.global_summary()
        with open(out, "w", encoding="utf-8") as file:
            json.dump({"local": local.to_dict(), "global": whole.to_dict(),
                       "mfu": local.mfu, "global_mfu": whole.mfu}, file)
    finally:
        dist.destroy_process_group()

