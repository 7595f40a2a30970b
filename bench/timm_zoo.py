"""Every ``timm.list_models()`` entry through ``flopwise profile timm:NAME`` on meta (issue 11).

    nice python bench/timm_zoo.py                  # the whole zoo, resuming from earlier runs
    nice python bench/timm_zoo.py --fresh          # forget earlier results first
    python bench/timm_zoo.py --names resnet18 repvgg_a0 --reparameterize

A model *works* when the CLI (run in-process, the real command line with its defaults: meta
device, the ``pretrained_cfg`` input size) exits 0, stays on meta (no automatic fallback to the
CPU), lists no op without a formula and no formula error, and reports as many parameters as
timm's own count: ``sum(p.numel())`` of the model ``timm.create_model(NAME)`` builds,
separately, on meta. With ``--reparameterize`` both sides are the inference-time fused form
(``timm.utils.reparameterize_model``).

Models run in chunks, each in a fresh subprocess, with a time limit per model, so one hanging
or crashing model does not stop the sweep: it is recorded as failed and the rest of its chunk is
tried again in a new subprocess. Results are appended, one JSON line per model,
to ``bench/_out/timm_zoo/<form>.jsonl``; a later run skips the models already there. The summary
gives the counts, every failure with its first line, and the wall time: the sum of the per-model
times (build + count, the interpreter and imports not included) and the elapsed time of this
invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "_out" / "timm_zoo"


def timm_param_count(name: str, reparameterize: bool) -> int:
    """timm's own count: the parameters of ``timm.create_model(name)``, built on meta."""
    import timm
    import torch
    from timm.utils.model import reparameterize_model

    with torch.device("meta"):        # the fused layers are made on meta too
        model = timm.create_model(name, pretrained=False)
        if reparameterize:
            model = reparameterize_model(model.eval())
    return sum(p.numel() for p in model.parameters())


def check_model(name: str, reparameterize: bool = False) -> dict[str, Any]:
    """Run ``flopwise profile timm:NAME -f json`` in-process; what it said, against timm."""
    from typer.testing import CliRunner

    from flopwise.cli.app import app

    start = time.perf_counter()
    argv = ["profile", f"timm:{name}", "-f", "json"]
    if reparameterize:
        argv.append("--reparameterize")
    result = CliRunner().invoke(app, argv)
    seconds = time.perf_counter() - start
    record: dict[str, Any] = {"name": name, "exit": result.exit_code, "seconds": seconds}
    if result.exit_code != 0:
        text = (result.stderr or result.output or repr(result.exception)).strip()
        record["error"] = text.splitlines()[0] if text else repr(result.exception)
        return record
    report = json.loads(result.stdout)
    record.update(device=report["run"]["device"], notes=result.stderr.strip().splitlines(),
                  params=report["total"]["params"], macs=report["total"]["macs"],
                  unsupported=report["unsupported"],
                  formula_errors=report.get("formula_errors", {}),
                  timm_params=timm_param_count(name, reparameterize))
    return record


def works(record: dict[str, Any]) -> bool:
    return (record["exit"] == 0 and record.get("device", "meta") == "meta"
            and not record.get("unsupported")
            and not record.get("formula_errors") and record["params"] == record["timm_params"])


def _worker(names: list[str], reparameterize: bool) -> None:
    import warnings

    import timm  # noqa: F401  (imported before the clock starts)

    import flopwise.cli.profile  # noqa: F401

    warnings.simplefilter("ignore")
    for name in names:
        print("START", name, flush=True)
        try:
            record = check_model(name, reparameterize)
        except Exception as error:        # the bench's own side (timm's count) failed
            record = {"name": name, "exit": None, "error": f"bench: {type(error).__name__}: "
                      f"{(str(error).splitlines() or [''])[0]}"}
        print(json.dumps(record), flush=True)


def _follow(worker: subprocess.Popen[str], errors: IO[str],
            timeout_s: float) -> tuple[str | None, list[str], str]:
    """Read a worker's records until it ends or one model runs past ``timeout_s`` (then it is
    killed): the model still running, the records, and why the worker stopped early."""
    assert worker.stdout is not None
    lines: list[str] = []
    running = None
    deadline = time.monotonic() + timeout_s
    while True:
        ready, _, _ = select.select([worker.stdout], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            worker.kill()
            worker.wait()
            return running, lines, f"timeout: one model ran past {timeout_s:.0f} s"
        line = worker.stdout.readline()
        if not line:
            code = worker.wait()
            errors.seek(0)
            return running, lines, (f"worker exited {code}: "
                                    + (errors.read().strip().splitlines() or [""])[-1])
        if line.startswith("START "):
            running = line.split(" ", 1)[1].strip()
            deadline = time.monotonic() + timeout_s
        elif line.startswith("{"):
            lines.append(line.strip())
            running = None


def _run_chunk(names: list[str], reparameterize: bool,
               timeout_s: float) -> tuple[list[str], list[str]]:
    """Run one chunk in a subprocess: the JSON lines of the models it finished and the names it
    did not reach. A model that runs past ``timeout_s`` (the clock restarts for each model) or
    crashes the worker is recorded as failed, and the worker is ended."""
    command = [sys.executable, __file__, "--worker", *names]
    if reparameterize:
        command.append("--reparameterize")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryFile("w+") as errors:
        worker = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True,
                                  env=env, cwd=REPO)
        running, lines, failure = _follow(worker, errors, timeout_s)
    finished = {json.loads(line)["name"] for line in lines}
    if running is None and not lines and failure:
        running = names[0]                # it failed before the first model: blame that one
    if running is not None:               # it crashed or hung on this one
        lines.append(json.dumps({"name": running, "exit": None, "error": failure}))
        finished.add(running)
    return lines, [name for name in names if name not in finished]


def _load(results: Path) -> dict[str, dict[str, Any]]:
    if not results.exists():
        return {}
    records = (json.loads(line) for line in results.read_text(encoding="utf-8").splitlines())
    return {record["name"]: record for record in records}


def sweep(names: Iterable[str], reparameterize: bool, chunk: int, timeout_s: float,
          results: Path, jobs: int) -> None:
    """Run the models not yet in ``results``, ``jobs`` chunks at a time; only this process
    writes ``results``."""
    todo = [name for name in names if name not in _load(results)]
    with ThreadPoolExecutor(jobs) as pool, results.open("a", encoding="utf-8") as sink:
        running: dict[Future[tuple[list[str], list[str]]], list[str]] = {}
        while todo or running:
            while todo and len(running) < jobs:
                batch, todo = todo[:chunk], todo[chunk:]
                running[pool.submit(_run_chunk, batch, reparameterize, timeout_s)] = batch
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
                lines, left = future.result()
                sink.writelines(line + "\n" for line in lines)
                sink.flush()
                todo = left + todo
            print(f"{len(_load(results))} done, {len(todo)} to go", file=sys.stderr, flush=True)


def summary(names: list[str], results: Path, elapsed_s: float, form: str) -> str:
    import timm
    import torch

    records = _load(results)
    good = [name for name in names if name in records and works(records[name])]
    bad = [name for name in names if name in records and not works(records[name])]
    missing = [name for name in names if name not in records]
    total_s = sum(float(records[name].get("seconds") or 0.0) for name in names if name in records)
    run = len(names) - len(missing)
    per_s = total_s / max(1, run)
    lines = [
        f"timm {timm.__version__}, torch {torch.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} cores; form: {form}",
        f"works: {len(good)} / {len(names)}; fails: {len(bad)}; not run: {len(missing)}",
        f"time on meta, build + count, summed over the {run} models run: {total_s / 60:.1f} min "
        f"({per_s:.1f} s a model"
        + (f"; the whole zoo at that rate: {per_s * len(names) / 60:.0f} min" if missing else "")
        + f"); this invocation: {elapsed_s / 60:.1f} min",
    ]
    slowest = sorted((n for n in names if n in records), key=lambda n: -float(
        records[n].get("seconds") or 0.0))[:5]
    lines.append("slowest: " + ", ".join(
        f"{n} {float(records[n].get('seconds') or 0):.1f} s" for n in slowest))
    for name in bad:
        record = records[name]
        why = record.get("error") or (
            f"params {record['params']} vs timm {record['timm_params']}"
            if record["params"] != record["timm_params"] else
            f"unsupported {record.get('unsupported')} errors {record.get('formula_errors')} "
            f"device {record.get('device')} notes {record.get('notes')}")
        lines.append(f"FAIL {name}: {why}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--names", nargs="*", help="these models only (default: the whole zoo)")
    parser.add_argument("--reparameterize", action="store_true",
                        help="profile the fused inference form (flopwise --reparameterize)")
    parser.add_argument("--chunk", type=int, default=30, help="models per subprocess")
    parser.add_argument("--jobs", type=int, default=1, help="subprocesses at a time")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per model")
    parser.add_argument("--results", type=Path, help="results file (default: "
                        "bench/_out/timm_zoo/<form>.jsonl)")
    parser.add_argument("--fresh", action="store_true", help="forget earlier results")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.reparameterize)
        return
    import timm

    form = "reparameterized" if args.reparameterize else "default"
    results = args.results or OUT / f"{form}.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and results.exists():
        results.unlink()
    names = args.names or timm.list_models()
    start = time.perf_counter()
    sweep(names, args.reparameterize, args.chunk, args.timeout, results, args.jobs)
    print(summary(names, results, time.perf_counter() - start, form))


if __name__ == "__main__":
    main()
