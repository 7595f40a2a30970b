"""Calibrated latency against measured latency on torchvision models (issue 15, must-shows 1 and 3).

    python bench/latency_calibration.py [--profile FILE] [--threads N ...] [--batches 1 8]
                                        [--models NAME ...] [--repeats 5] [--write-docs]

``--threads 2 1`` runs everything below once per thread count, one after the other (the final
measurement on an idle machine: one command).

1. Calibration: runs ``flopwise bench-device`` quick (its microbenchmarks: no model involved)
   with the given threads, or loads ``--profile FILE`` written by it.
2. Per model (weights=None, eval, 224², fp32) and batch: counts the model on ``meta`` under
   ``torch.no_grad()`` (the measured run's mode: no autograd clones or detaches), attaches
   the roofline of the same profile and the calibrated prediction
   (``report.with_roofline(profile).with_latency(profile)``), then measures the latency on CPU
   with :func:`flopwise.timing.measure_latency` (no_grad, warm-up, median of clean runs) with the
   same threads. Nothing is fitted on the models: the calibration never sees them.
3. Prints a table (model, batch, roofline, estimated, measured, measured ÷ estimated), the share
   of pairs with measured within ±25 % of estimated, the median ratio, and the machine's load
   (``os.getloadavg``) before and after. ``--write-docs`` puts it into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torchvision

import flopwise
from flopwise.hardware.benchmark import run_benchmark, settings_for
from flopwise.timing import measure_latency

MODELS = (
    "resnet18", "resnet34", "resnet50", "resnext50_32x4d", "densenet121", "googlenet",
    "alexnet", "squeezenet1_0", "squeezenet1_1", "mobilenet_v2", "mobilenet_v3_small",
    "mobilenet_v3_large", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "mnasnet1_0",
    "efficientnet_b0", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny", "vit_b_16", "swin_t",
)
TOLERANCE = 0.25
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
BEGIN, END = "<!-- latency-calibration:begin -->", "<!-- latency-calibration:end -->"


def _build(name: str) -> torch.nn.Module:
    builder = getattr(torchvision.models, name)
    extra = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    return builder(weights=None, **extra).eval()


def _cpu_time_s(model: torch.nn.Module, x: torch.Tensor, warmup: int, repeats: int) -> float:
    """Median process CPU time of one forward (the --cpu-time development mode)."""
    with torch.no_grad():
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            begin = time.process_time()
            model(x)
            times.append(time.process_time() - begin)
    return statistics.median(times)


def _profile(args: argparse.Namespace) -> Path:
    if args.profile is not None:
        return Path(args.profile)
    started = time.perf_counter()
    settings = settings_for("quick", "cpu")
    if args.cpu_time:
        settings = replace(settings, micro=replace(settings.micro, cpu_time=True))
    bench = run_benchmark("cpu", settings=settings)
    print(f"bench-device --quick: {time.perf_counter() - started:.1f} s, "
          f"{bench.threads} threads", flush=True)
    path = Path(tempfile.mkdtemp()) / "profile.json"
    path.write_text(json.dumps(bench.to_profile()), encoding="utf-8")
    return path


def _row(name: str, batch: int, profile: Path, args: argparse.Namespace) -> dict[str, object]:
    model = _build(name)
    meta = copy.deepcopy(model).to("meta")
    with torch.no_grad():
        report = flopwise.profile(meta, torch.empty(batch, 3, 224, 224, device="meta"))
    report = report.with_roofline(str(profile)).with_latency(profile)
    latency = report.sections["latency"]
    x = torch.randn(batch, 3, 224, 224)
    if args.cpu_time:
        measured = _cpu_time_s(model, x, args.warmup, args.repeats)
    else:
        measured = measure_latency(model, x, warmup=args.warmup, repeats=args.repeats).time_s
    estimated = latency.estimated_latency_s
    return {"model": name, "batch": batch, "roofline_s": latency.roofline_latency_s,
            "estimated_s": estimated, "measured_s": measured,
            "ratio": measured / estimated, "classes": dict(latency.class_time_s)}


def _lines(rows: list[dict[str, object]], header: str) -> list[str]:
    lines = [header, "",
             "| model | batch | roofline (ms) | estimated (ms) | measured (ms) | measured ÷ est. |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['batch']} | {1e3 * row['roofline_s']:.2f} | "
                     f"{1e3 * row['estimated_s']:.2f} | {1e3 * row['measured_s']:.2f} | "
                     f"{row['ratio']:.2f} |")
    ratios = [float(row["ratio"]) for row in rows]
    within = sum(1 for r in ratios if abs(r - 1.0) <= TOLERANCE)
    lines += ["", f"within ±25 %: {within} / {len(ratios)} = {100 * within / len(ratios):.0f} %; "
              f"median measured ÷ estimated {statistics.median(ratios):.2f} "
              f"(range {min(ratios):.2f}–{max(ratios):.2f})"]
    return lines


def _write_docs(lines: list[str]) -> None:
    text = DOCS.read_text(encoding="utf-8")
    body = "\n".join([BEGIN, *lines, END])
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n## Calibrated latency\n\n" + body + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="a bench-device profile with calibration tables")
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="torch threads, one full run per count (default: as set)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to NAME-<threads>t.json")
    parser.add_argument("--cpu-time", action="store_true",
                        help="development on a loaded machine: time calibration and models with "
                             "process CPU time (use with --threads 1)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    blocks: list[str] = []
    for threads in args.threads or [torch.get_num_threads()]:
        torch.set_num_threads(threads)
        blocks += [*_run(args), ""]
    if args.write_docs:
        _write_docs(blocks[:-1])


def _run(args: argparse.Namespace) -> list[str]:
    """Calibrate (or load the profile), predict and measure every pair; the table's lines."""
    load_before = os.getloadavg()
    profile = _profile(args)
    rows = []
    for name in args.models:
        for batch in args.batches:
            row = _row(name, batch, profile, args)
            rows.append(row)
            print(f"{name:20s} b{batch}: roofline {1e3 * row['roofline_s']:8.2f} ms  "
                  f"estimated {1e3 * row['estimated_s']:8.2f} ms  measured "
                  f"{1e3 * row['measured_s']:8.2f} ms  ratio {row['ratio']:.2f}", flush=True)
    load_after = os.getloadavg()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"{when}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
              f"{os.cpu_count()} CPUs; calibration: {profile if args.profile else 'bench-device --quick'}; "
              f"load average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} "
              f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} "
              f"{load_after[2]:.2f}; measured = median of {args.repeats} clean runs after "
              f"{args.warmup} warm-up runs" + (", process CPU time" if args.cpu_time else ""))
    lines = _lines(rows, header)
    print("\n".join(lines), flush=True)
    if args.json:
        path = Path(args.json)
        path.with_name(f"{path.stem}-{torch.get_num_threads()}t{path.suffix}").write_text(
            json.dumps(rows, indent=1), encoding="utf-8")
    return lines

if __name__ == "__main__":
    main()
