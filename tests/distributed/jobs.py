"""Real multi-process jobs for the tests: gloo on 127.0.0.1, one process per rank.

Ranks are forked from a fork server (``multiprocessing``'s ``forkserver``) that imports torch
and the scenarios once: spawning would import torch in every rank, which on a loaded 2-core
machine costs more than the job itself, and forking the test process itself is unsafe once it
has run autograd (its threads do not survive a fork). Every job has a hard timeout: a rank that
hangs is killed and the test fails instead of blocking the suite.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import tempfile
from pathlib import Path
from typing import Any

from tests.distributed import gloo_worker

TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rank(rank: int, world: int, port: int, out: str, names: list[str]) -> None:
    import torch

    torch.set_num_threads(1)
    gloo_worker.main(rank, world, port, Path(out), names)


def run_gloo(world: int, names: list[str], timeout_s: float = TIMEOUT_S) -> list[dict[str, Any]]:
    """Run the named scenarios on ``world`` gloo ranks; each rank's results, in rank order."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.distributed.gloo_worker"])
    port = _free_port()
    with tempfile.TemporaryDirectory() as out:
        ranks = [context.Process(target=_rank, args=(rank, world, port, out, names))
                 for rank in range(world)]
        for process in ranks:
            process.start()
        for process in ranks:
            process.join(timeout_s)
        hung = [process.pid for process in ranks if process.is_alive()]
        for process in ranks:
            if process.is_alive():
                process.kill()
                process.join()
        if hung:
            raise TimeoutError(f"gloo job of {world} ranks still running after {timeout_s} s")
        failed = [process.exitcode for process in ranks if process.exitcode != 0]
        if failed:
            raise RuntimeError(f"gloo job of {world} ranks: exit codes {failed}")
        return [json.loads((Path(out) / f"rank{rank}.json").read_text()) for rank in range(world)]


_RESULTS: dict[int, list[dict[str, Any]]] = {}


def gloo_results(world: int) -> list[dict[str, Any]]:
    """Every scenario on ``world`` gloo ranks, run once per test session."""
    if world not in _RESULTS:
        names = list(gloo_worker.SCENARIOS)
        _RESULTS[world] = run_gloo(world, names)
    return _RESULTS[world]
