"""Every transformers model type through ``flopwise profile hf:TYPE`` (issue 11, must-show 1).

    python bench/hf_zoo.py [--workers N] [--timeout S] [--worker-gib G] [--fresh] [--write-docs] [TYPE ...]

For each type in ``MODEL_MAPPING_NAMES`` whose default config transformers can build into the
class flopwise picks (on meta), the command line ``flopwise profile hf:TYPE --format json`` is
run in-process (typer's runner, the same code path as the shell) and must exit 0 with the
parameters of the built model (``sum(p.numel())``) and no unsupported op; otherwise the type
must be on ``bench/hf_zoo_listed.json`` (type → reason) and its error must be one line.

Resumable: results go to ``bench/results/hf_zoo.jsonl`` one line per type; types already there
are skipped (``--fresh`` starts over; types named on the command line run again, replacing
their lines). Types run in worker processes, each with a per-type time
limit; a worker that dies or hangs is replaced and its type recorded as such.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "hf_zoo.jsonl"
LISTED = HERE / "hf_zoo_listed.json"
DOCS = HERE.parent / "docs" / "benchmarks.md"
MARK = "<!-- hf-zoo -->"


def all_types() -> list[str]:
    """Every type, in a fixed shuffled order (an interrupted sweep is still a fair sample)."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return sorted(MODEL_MAPPING_NAMES, key=lambda name: hashlib.sha256(name.encode()).hexdigest())


def listed() -> dict[str, str]:
    """Types known not to profile, with the reason (``bench/hf_zoo_listed.json``)."""
    return dict(json.loads(LISTED.read_text(encoding="utf-8")))


class _Timeout(BaseException):          # not caught by the CLI's handlers
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def check_type(model_type: str) -> dict[str, Any]:
    """Build ``hf:TYPE`` on meta, then run the CLI on it; the outcome as a JSON-able dict."""
    import torch
    from typer.testing import CliRunner

    from flopwise.cli.app import app
    from flopwise.models.hf import build, hf_class, hf_config

    row: dict[str, Any] = {"type": model_type}
    started = time.perf_counter()
    try:
        config = hf_config(f"hf:{model_type}", model_type)
        with torch.device("meta"):
            model = build(hf_class(config), config)
        row["expected_params"] = sum(p.numel() for p in model.parameters())
        row["class"] = type(model).__name__
        del model
    except _Timeout:
        raise
    except Exception as error:                       # transformers cannot build it
        row["outcome"] = "unbuildable"
        row["error"] = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
        return row
    result = CliRunner().invoke(app, ["profile", f"hf:{model_type}", "--format", "json"])
    row["exit_code"] = result.exit_code
    row["stderr"] = result.stderr.strip().splitlines()
    row["seconds"] = round(time.perf_counter() - started, 1)
    if result.exit_code == 0:
        report = json.loads(result.stdout)
        row["params"] = report["total"]["params"]
        row["unsupported"] = sorted(report.get("unsupported") or {})
        ok = row["params"] == row["expected_params"] and not row["unsupported"]
        row["outcome"] = "works" if ok else ("params" if row["unsupported"] == [] else "unsupported")
    else:
        row["outcome"] = "fails"
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            row["stderr"].append(f"{type(result.exception).__name__}: {result.exception}"[:300])
    return row


def worker(types: list[str], timeout: int, out: Path) -> None:
    """Check ``types`` one by one, appending each result to ``out`` (a JSON line each)."""
    signal.signal(signal.SIGALRM, _alarm)
    for model_type in types:
        with out.open("a", encoding="utf-8") as progress:
            progress.write(json.dumps({"type": model_type, "started": True}) + "\n")
        signal.alarm(timeout)
        try:
            row = check_type(model_type)
        except _Timeout:
            row = {"type": model_type, "outcome": "timeout", "seconds": timeout}
        finally:
            signal.alarm(0)
        with out.open("a", encoding="utf-8") as progress:
            progress.write(json.dumps(row) + "\n")


def done_rows(path: Path) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if "outcome" in row:
                rows[row["type"]] = row
    return rows


def _started_not_done(path: Path) -> set[str]:
    started: set[str] = set()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            (started.add if "started" in row else started.discard)(row["type"])
    return started


def fold_parts(files: list[Path]) -> None:
    """Move the workers' results into the results file (also those of an interrupted run)."""
    with RESULTS.open("a", encoding="utf-8") as results:
        for part in files:
            if not part.exists():
                continue
            for stuck in _started_not_done(part):      # the worker died on this one
                results.write(json.dumps({"type": stuck, "outcome": "crashed"}) + "\n")
            for row in done_rows(part).values():
                results.write(json.dumps(row) + "\n")
            part.unlink()


# a worker may hold at most this much memory (the machine is shared): the CPU retry (weights and
# activations) may grow by half of it, and a worker whose resident memory passes it is stopped
WORKER_MAX_BYTES = 6 * 2**30
BATCH = 20                                 # types per worker process


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _watch(procs: list[subprocess.Popen[bytes]], deadline_s: list[float]) -> None:
    """Wait for the workers; stop one that outlives its deadline or outgrows its memory."""
    while any(proc.poll() is None for proc in procs):
        for proc, deadline in zip(procs, deadline_s):
            if proc.poll() is None and (time.monotonic() > deadline
                                        or _rss_bytes(proc.pid) > WORKER_MAX_BYTES):
                proc.kill()
                proc.wait()
        time.sleep(1)


def run(types: list[str], workers: int, timeout: int) -> float:
    """Check every type not yet in the results, ``workers`` processes at a time; wall seconds."""
    RESULTS.parent.mkdir(exist_ok=True)
    fold_parts(sorted(RESULTS.parent.glob(RESULTS.stem + ".part*")))
    todo = [t for t in types if t not in done_rows(RESULTS)]
    started = time.perf_counter()
    while todo:
        batch = todo[:workers * BATCH]        # fresh workers per batch: a long sweep runs current code
        shards = [batch[i::workers] for i in range(workers) if batch[i::workers]]
        files = [RESULTS.with_suffix(f".part{i}") for i in range(len(shards))]
        env = {**os.environ, "OMP_NUM_THREADS": "1",
               "FLOPWISE_FALLBACK_MAX_BYTES": str(WORKER_MAX_BYTES // 2)}
        procs = [subprocess.Popen([sys.executable, __file__, "--worker", str(f), "--timeout",
                                   str(timeout), *shard], env=env)
                 for f, shard in zip(files, shards)]
        _watch(procs, [time.monotonic() + timeout * len(shard) + 60 for shard in shards])
        fold_parts(files)
        todo = [t for t in todo if t not in done_rows(RESULTS)]
    return time.perf_counter() - started


def summary(rows: dict[str, dict[str, Any]], known: dict[str, str]) -> dict[str, int]:
    built = [r for r in rows.values() if r["outcome"] != "unbuildable"]
    works = [r for r in built if r["outcome"] == "works"]
    on_list = [r for r in built if r["outcome"] != "works" and r["type"] in known]
    return {"types": len(rows), "buildable": len(built), "works": len(works),
            "listed": len(on_list), "neither": len(built) - len(works) - len(on_list)}


def refused_in_one_line(row: dict[str, Any]) -> bool:
    """Whether a type's CLI run exited non-zero with exactly one error line: its stderr, less
    the CLI's ``note:`` lines (what it made or retried, not errors), is one line starting with
    ``error:``. A crash, a time-out, a traceback or an exception the CLI did not catch (the
    sweep appends it to the stderr) is not."""
    if row.get("outcome") != "fails" or not row.get("exit_code"):
        return False
    errors = [line for line in row.get("stderr", []) if not line.startswith("note: ")]
    return len(errors) == 1 and errors[0].startswith("error: ")


def one_line_check(rows: dict[str, dict[str, Any]], known: dict[str, str]) -> list[str]:
    """The listed types not refused in one line: also those not run, or that transformers
    cannot build (a stale entry)."""
    built = {name for name, row in rows.items() if row["outcome"] != "unbuildable"}
    return sorted(name for name in known
                  if name not in built or not refused_in_one_line(rows[name]))


def table(rows: dict[str, dict[str, Any]], known: dict[str, str], wall_s: float | None,
          note: str = "") -> str:
    """The docs' table: counts, then the types of each outcome."""
    counts = summary(rows, known)
    share = counts["works"] / max(counts["buildable"], 1)
    lines = [MARK, "", f"`flopwise profile hf:TYPE` over transformers' `MODEL_MAPPING_NAMES` "
             f"(`python bench/hf_zoo.py`): {counts['types']} types, {counts['buildable']} "
             f"buildable from their default config; **{counts['works']} work** "
             f"({share:.0%}), {counts['listed']} listed with a reason, {counts['neither']} "
             "neither" + (f"; wall time {wall_s / 60:.1f} min" if wall_s else "") + "."
             + (f" {note}" if note else ""), "",
             "| outcome | types |", "|---|---|"]
    by: dict[str, list[str]] = {}
    for row in rows.values():
        by.setdefault(row["outcome"], []).append(row["type"])
    for outcome, names in sorted(by.items()):
        lines.append(f"| {outcome} | {len(names)}: {', '.join(sorted(names))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    global WORKER_MAX_BYTES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", type=Path)
    parser.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1))
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--worker-gib", type=float, default=WORKER_MAX_BYTES / 2**30,
                        help="memory one worker may hold (GiB; half of it for the CPU retry's "
                             "growth); raise it for a rerun with one worker on an idle machine")
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--report", action="store_true", help="only fold and print the results")
    parser.add_argument("--note", default="", help="a sentence for the docs (the machine's load)")
    parser.add_argument("types", nargs="*")
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.types, args.timeout, args.worker)
        return
    WORKER_MAX_BYTES = int(args.worker_gib * 2**30)
    if args.fresh and RESULTS.exists():
        RESULTS.unlink()
    if args.types and RESULTS.exists():              # named types run again, replacing their lines
        kept = [line for line in RESULTS.read_text(encoding="utf-8").splitlines()
                if json.loads(line)["type"] not in args.types]
        RESULTS.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    wall = None if args.report else run(args.types or all_types(), args.workers, args.timeout)
    if args.report:
        fold_parts(sorted(RESULTS.parent.glob(RESULTS.stem + ".part*")))
    rows, known = done_rows(RESULTS), listed()
    text = table(rows, known, wall if not args.types else None, args.note)
    print(text)
    print(json.dumps(summary(rows, known)))
    broken = one_line_check(rows, known)
    print(f"listed: {len(known)}, each refused in one line: {len(known) - len(broken)}")
    for name in broken:
        row = rows.get(name, {"outcome": "not run"})
        print(f"  NOT ONE LINE: {name} ({row['outcome']}, exit {row.get('exit_code')}): "
              + " | ".join(row.get("stderr", []))[:300])
    if args.write_docs:
        docs = DOCS.read_text(encoding="utf-8")
        if MARK not in docs:
            docs = docs.rstrip() + f"\n\n## The transformers zoo (issue 11)\n\n{MARK}\n"
        head, _, rest = docs.partition(MARK)
        tail = rest.partition("\n## ")[2]
        DOCS.write_text(head + text + ("\n## " + tail if tail else ""), encoding="utf-8")
    if broken:
        sys.exit(f"{len(broken)} listed types are not refused in one line: {', '.join(broken)}")


if __name__ == "__main__":
    main()
