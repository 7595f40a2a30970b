"""Run one tool on every case, in its own process, and keep the results in a JSON file.

    python -m bench.peers.worker --tool thop --out bench/_out/peers/thop.json [--cases a,b]

The file is rewritten after every case, and a case already in it (with the same fingerprint:
tool version, torch version, harness and, for flopwise, its source) is not run again, so an
interrupted benchmark resumes where it stopped.

Per case: a real run on CPU (one thread), a plain forward pass and the counting call interleaved
(median of 3 to 5 rounds, within a few seconds per case), then the counting call once more under
tracemalloc; then the same model built on the meta device, counted (median of 3 calls).
Meta-only cases (Llama) have no real run and no forward pass to compare with.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import importlib
import importlib.metadata
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.peers.cases import Built, Case, all_cases
from bench.peers.features import probe_features, short_error
from bench.peers.measure import (
    CaseTimeout,
    interleaved_medians,
    python_peak_bytes,
    repeats_for,
    time_limit,
    timed,
)
from bench.peers.tools import Count, Tool, quiet, tool_by_name

__all__ = ["fingerprint", "main", "run_tool"]

REPO = Path(__file__).resolve().parents[2]
TIMING_BUDGET_S = 2.0
#: the harness files whose change invalidates cached results (the report's do not)
MEASURING_FILES = ("cases.py", "tools.py", "measure.py", "worker.py", "features.py")
CASE_LIMIT_S = 240


def _hash_files(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, text=True, capture_output=True,
                          check=True).stdout.strip()


def source_state() -> str:
    """The commit being measured, and whether flopwise's source differs from it."""
    try:
        sha = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "src/flopwise")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{sha} (with uncommitted changes in src/flopwise)" if dirty else sha


def fingerprint(tool: Tool, version: str) -> str:
    """What a cached result depends on: versions, the harness, and flopwise's own source."""
    harness = [REPO / "bench" / "peers" / name for name in MEASURING_FILES]
    parts = [tool.name, version, torch.__version__, _hash_files(harness)]
    if tool.name == "flopwise":
        parts.append(_hash_files(list((REPO / "src" / "flopwise").rglob("*.py"))))
    return "/".join(parts)


def _call_quietly(fn: Callable[[], Any]) -> Any:
    with quiet(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def _counted(tool: Tool, built: Built) -> Callable[[], Count]:
    def call() -> Count:
        with torch.no_grad():
            return _call_quietly(lambda: tool.count(built))

    return call


def _forward(built: Built) -> Callable[[], object]:
    def call() -> object:
        with torch.no_grad():
            return built.model(*built.args, **built.kwargs)

    return call


def _count_fields(count: Count) -> dict[str, Any]:
    return {"macs": count.macs, "params": count.params, "raw": count.raw}


def _real_run(tool: Tool, case: Case) -> dict[str, Any]:
    """Count on CPU; time it against a plain forward pass; its Python peak memory."""
    built = _call_quietly(lambda: case.build("cpu"))
    forward, count = _forward(built), _counted(tool, built)
    forward_s, _ = timed(forward)  # warm-up of the forward pass
    try:
        first_s, result = timed(count)
    except CaseTimeout:
        raise
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a result
        return {"error": short_error(exc)}
    rounds = repeats_for(forward_s + first_s, TIMING_BUDGET_S)
    medians = interleaved_medians({"forward": forward, "count": count}, rounds)
    peak = python_peak_bytes(count)
    return {**_count_fields(result), "error": None, "forward_s": medians["forward"],
            "count_s": medians["count"], "ratio": medians["count"] / medians["forward"],
            "rounds": rounds, "py_peak_bytes": peak}


def _meta_run(tool: Tool, case: Case) -> dict[str, Any]:
    """Count the model built on the meta device (median of 3 calls)."""
    built = _call_quietly(lambda: case.build("meta"))
    count = _counted(tool, built)
    try:
        first_s, result = timed(count)
    except CaseTimeout:
        raise
    except Exception as exc:  # noqa: BLE001
        return {"error": short_error(exc)}
    times = sorted([first_s] + [timed(count)[0] for _ in range(2)])
    return {**_count_fields(result), "error": None, "count_s": times[1]}


def run_case(tool: Tool, case: Case) -> dict[str, Any]:
    """The real and meta runs of one case (either may carry an ``error`` instead)."""
    result: dict[str, Any] = {}
    try:
        with time_limit(CASE_LIMIT_S):
            if not case.meta_only:
                result["real"] = _real_run(tool, case)
            result["meta"] = _meta_run(tool, case)
    except Exception as exc:  # noqa: BLE001 - a timeout, or the harness itself failed
        message = str(exc) if isinstance(exc, CaseTimeout) else f"harness: {short_error(exc)}"
        if not case.meta_only:
            result.setdefault("real", {"error": message})
        result.setdefault("meta", {"error": message})
    return result


def _load(path: Path) -> dict[str, Any]:
    if path.exists():
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError:
            return {}
    return {}


def _save(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    tmp.replace(path)


def unavailable(tool: Tool) -> str | None:
    """Why the tool cannot run here (``None``: it can)."""
    try:
        tool.version()
    except importlib.metadata.PackageNotFoundError:
        return f"not installed: no distribution `{tool.distribution}` in this environment"
    try:
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            importlib.import_module(tool.module)
    except Exception as exc:  # noqa: BLE001 - any import failure is the answer
        return f"not importable: {short_error(exc)}"
    return None


def run_tool(tool: Tool, cases: list[Case], out: Path,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Features and every case of one tool; resumes from ``out``; returns the results."""
    data: dict[str, Any]
    reason = unavailable(tool)
    if reason is not None:
        data = {"tool": tool.name, "status": reason, "cases": {}}
        _save(out, data)
        log(f"{tool.name:>16} {reason}")
        return data
    version = tool.version()
    stamp = fingerprint(tool, version)
    data = _load(out)
    if data.get("fingerprint") != stamp:
        data = {"tool": tool.name, "status": "ok", "version": version, "fingerprint": stamp,
                "source": source_state(), "cases": {}}
    if "features" not in data:
        features_s, data["features"] = timed(lambda: probe_features(tool))
        data["features_wall_s"] = features_s
        _save(out, data)
    for case in cases:
        if case.name in data["cases"]:
            continue
        wall_s, result = timed(functools.partial(run_case, tool, case))
        data["cases"][case.name] = {**result, "wall_s": wall_s}
        _save(out, data)
        log(f"{tool.name:>16} {case.name:<20} {_summary(data['cases'][case.name])}")
    return data


def _summary(result: dict[str, Any]) -> str:
    real, meta = result.get("real", {}), result.get("meta", {})
    first = real if real else meta
    if first.get("error"):
        return f"error: {first['error'][:80]}"
    ratio = f" ×{real['ratio']:.2f} of a forward" if real.get("ratio") else ""
    return f"{first.get('macs')} MACs{ratio}"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tool", required=True)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    wanted = [name for name in args.cases.split(",") if name]
    cases = [case for case in all_cases() if not wanted or case.name in wanted]
    run_tool(tool_by_name(args.tool), cases, args.out,
             log=lambda line: print(line, file=sys.stderr, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
