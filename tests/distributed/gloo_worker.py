"""One rank of a real gloo job on 127.0.0.1: runs every scenario, writes ``rank<R>.json``.

Started by tests/distributed/jobs.py (a fork server process per rank, calling :func:`main`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch.distributed as dist
from torch.distributed.device_mesh import init_device_mesh

from tests.distributed.scenarios import SCENARIOS

__all__ = ["SCENARIOS", "main"]


def main(rank: int, world: int, port: int, out: Path, names: list[str]) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        results = {name: SCENARIOS[name](mesh) for name in names}
    finally:
        dist.destroy_process_group()
    (out / f"rank{rank}.json").write_text(json.dumps(results))

