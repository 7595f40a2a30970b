"""Per-rank and global throughput under DDP: two gloo ranks on 127.0.0.1, bounded at 60 s."""

from __future__ import annotations

import json
import multiprocessing
import socket
import time

from tests import _ddp_worker as ddp_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def step_flops(samples: int) -> int:
    """Linear(16, 32) -> ReLU -> Linear(32, 4): forward 16·32 + 32·4 = 640 MACs a sample, the
    weight gradients as many again, the second layer's input gradient 32·4 = 128 (the first
    layer's input needs none); 2 FLOPs per MAC."""
    return 2 * samples * (640 + 640 + 128)


def test_ddp_two_ranks_per_rank_and_global(tmp_path):
    port = free_port()
    outs = [tmp_path / f"rank{rank}.json" for rank in range(2)]
    # a fork server imports torch once, before any autograd ran (autograd does not survive a
    # fork of a process that used it, as pytest's has), and forks both ranks from there
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["torch", "flopwise.api", "tests._ddp_worker"])
    workers = [context.Process(target=ddp_worker.main, args=(rank, 2, port, str(out)))
               for rank, out in enumerate(outs)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 60
    for worker in workers:
        worker.join(timeout=max(deadline - time.monotonic(), 0.1))
    hung = [worker for worker in workers if worker.is_alive()]
    for worker in hung:
        worker.kill()
        worker.join()
    assert not hung, "the two DDP ranks did not finish within 60 s"
    assert [w.exitcode for w in workers] == [0, 0]

    ranks = [json.loads(out.read_text()) for out in outs]
    for rank, result in enumerate(ranks):
        local = result["local"]
        samples = 8 // (rank + 1)
        assert local["steps"] == 2                          # 3 steps, 1 of warm-up
        assert local["model_flops"] == 2 * step_flops(samples)
        assert local["peak_flops_per_s"] == (rank + 1) * 1e12
        assert result["mfu"] == local["model_flops"] / local["time_s"] / local["peak_flops_per_s"]
    whole = ranks[0]["global"]
    assert ranks[1]["global"] == whole                      # every rank gets the same answer
    assert whole["ranks"] == 2 and whole["steps"] == 4
    assert whole["model_flops"] == 2 * step_flops(8) + 2 * step_flops(4)
    assert whole["samples"] == 2 * 8 + 2 * 4
    assert whole["peak_flops_per_s"] == 1e12 + 2e12
    assert whole["time_s"] == max(r["local"]["time_s"] for r in ranks)
    assert ranks[0]["global_mfu"] == whole["model_flops"] / whole["time_s"] / 3e12
