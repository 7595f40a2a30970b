"""Run every tool on every case (one process per tool) and write the tables into the docs.

    python bench/peers/run.py                    # all tools, all cases, resume from the cache
    python bench/peers/run.py --fresh            # forget cached results
    python bench/peers/run.py --tools flopwise,thop --cases resnet18
    python bench/peers/run.py --report-only      # only rewrite the docs from the cache

Normally started by ``bash bench/peers/run.sh``, which first builds the environment with the
peers in it. Results are cached per tool in ``bench/_out/peers/<tool>.json``; the generated
section of ``docs/benchmarks.md`` (between its ``peers`` markers) is replaced, nothing else.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.peers.cases import Case, all_cases
from bench.peers.report import Results, render, write_section
from bench.peers.tools import TOOLS, Tool

OUT = REPO / "bench" / "_out" / "peers"
DOC = REPO / "docs" / "benchmarks.md"
TOOL_LIMIT_S = 900


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def _version(dist: str) -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment(command: str, runtime_s: float, load_start: float | None) -> dict[str, Any]:
    """Date, machine, load and versions for the docs' header."""
    return {
        "command": command, "runtime_s": runtime_s,
        "load": (load_start, os.getloadavg()[0]),
        "date": datetime.date.today().isoformat(), "cpu": _cpu_model(),
        "cores": os.cpu_count(), "memory_gib": _memory_gib(),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(), "torch": _version("torch"),
        "torchvision": _version("torchvision"), "transformers": _version("transformers"),
    }


def _install_failure(tool: Tool) -> str | None:
    """The error ``run.sh`` saved when ``pip install`` of this tool failed."""
    log = OUT / "install" / f"{tool.distribution}.err"
    if not log.exists():
        return None
    lines = [line.strip() for line in log.read_text().splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return f"not installable: {errors[-1][:300] if errors else 'pip failed'}"


def run_worker(tool: Tool, cases: list[Case], out: Path) -> None:
    """One tool in its own process (one thread), progress on stderr."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "bench.peers.worker", "--tool", tool.name, "--out",
               str(out), "--cases", ",".join(case.name for case in cases)]
    try:
        subprocess.run(command, cwd=REPO, env=env, timeout=TOOL_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        print(f"{tool.name}: stopped after {TOOL_LIMIT_S} s; finished cases are kept",
              file=sys.stderr)


def collect(tools: list[Tool], cases: list[Case], out_dir: Path, run: bool) -> dict[str, Any]:
    """Each tool's JSON (running the workers first when ``run``)."""
    data: dict[str, Any] = {}
    for tool in tools:
        path = out_dir / f"{tool.name}.json"
        failure = _install_failure(tool)
        if failure:
            data[tool.name] = {"tool": tool.name, "status": failure, "cases": {}}
            continue
        if run:
            run_worker(tool, cases, path)
        if path.exists():
            data[tool.name] = json.loads(path.read_text())
        else:
            data[tool.name] = {"tool": tool.name, "status": "no result (the worker crashed)"}
    return data


def _select(items: list[Any], names: str) -> list[Any]:
    wanted = [n for n in names.split(",") if n]
    return [item for item in items if not wanted or item.name in wanted]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tools", default="", help="comma-separated tool names (default: all)")
    parser.add_argument("--cases", default="", help="comma-separated model names (default: all)")
    parser.add_argument("--fresh", action="store_true", help="discard cached results first")
    parser.add_argument("--report-only", action="store_true", help="rewrite the docs only")
    parser.add_argument("--out-dir", type=Path, default=OUT)
    parser.add_argument("--doc", type=Path, default=DOC)
    parser.add_argument("--command", default="bash bench/peers/run.sh",
                        help="the command named in the docs")
    args = parser.parse_args(argv)

    tools, cases = _select(list(TOOLS), args.tools), _select(all_cases(), args.cases)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    if args.fresh:
        for tool in tools:
            (args.out_dir / f"{tool.name}.json").unlink(missing_ok=True)
    start = time.perf_counter()
    load_start: float | None = os.getloadavg()[0]
    data = collect(tools, cases, args.out_dir, run=not args.report_only)
    runtime = time.perf_counter() - start
    timing = args.out_dir / "runtime.json"
    if args.report_only:
        saved = json.loads(timing.read_text()) if timing.exists() else {}
        runtime, load_start = saved.get("runtime_s", 0.0), saved.get("load_start")
    else:
        timing.write_text(json.dumps({"runtime_s": runtime, "load_start": load_start}))
    results = Results(environment(args.command, runtime, load_start), tools, cases, data)
    write_section(args.doc, render(results))
    print(f"wrote {args.doc} ({runtime / 60:.1f} min)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
