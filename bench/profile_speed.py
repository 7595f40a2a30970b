"""Speed of the counter (issue 2, must-show 5), as ratios measured in one run.

    python bench/profile_speed.py [--write-docs]   # ResNet-50 ratios + Llama-2-70B CLI run

1. profiling a real ResNet-50 on CPU vs one plain forward pass (target ≤ 1.3×);
2. profiling ResNet-50 on the meta device vs one real forward pass (target ≤ 0.6×);
3. ``flopwise profile`` of a Llama-2-70B config on meta, end to end in a fresh process (build +
   count, through the CLI): wall time and peak resident memory (target: seconds, < 2 GB).

Each timing is the median of several runs after a warm-up, with the same thread count for both
sides of a ratio. The machines are noisy: only the ratios within one run mean something.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

import flopwise


def interleaved_medians(fns: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds of each function, the runs interleaved so that load changes on a noisy
    machine hit every side of a ratio alike."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def resnet_ratios(repeats: int) -> dict[str, float]:
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.device("meta"):
        meta_model = torchvision.models.resnet50(weights=None).eval()
    meta_x = torch.empty(1, 3, 224, 224, device="meta")

    def plain() -> None:
        with torch.no_grad():
            model(x)

    def counted() -> None:
        with torch.no_grad():
            flopwise.profile(model, x)

    def counted_meta() -> None:
        flopwise.profile(meta_model, meta_x)

    t = interleaved_medians({"forward": plain, "real": counted, "meta": counted_meta}, repeats)
    return {"forward_s": t["forward"], "profile_real_s": t["real"], "profile_meta_s": t["meta"],
            "real_ratio": t["real"] / t["forward"], "meta_ratio": t["meta"] / t["forward"]}


LLAMA_2_70B = {
    "model_type": "llama", "hidden_size": 8192, "num_hidden_layers": 80,
    "num_attention_heads": 64, "num_key_value_heads": 8, "intermediate_size": 28672,
    "vocab_size": 32000, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
}

_CHILD = """
import resource, sys, time
start = time.perf_counter()
from flopwise.cli import main
sys.argv = ["flopwise", "profile", "hf:" + sys.argv[1], "--input", "1,2048", "--format", "json",
            "-o", sys.argv[2]]
try:
    main()
except SystemExit as exit:
    assert not exit.code, exit.code
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def llama_70b_cli() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.json"
        config.write_text(json.dumps(LLAMA_2_70B))
        out = Path(tmp) / "report.json"
        wall_start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", _CHILD, str(config), str(out)],
                              capture_output=True, text=True, check=True)
        wall = time.perf_counter() - wall_start
        inner_s, rss_kib = done.stdout.split()[-2:]
        report = json.loads(out.read_text())
    return {"wall_s": wall, "in_process_s": float(inner_s),
            "peak_rss_gib": int(rss_kib) / 1024**2, "params": report["total"]["params"],
            "flops": report["total"]["flops"]}


BEGIN, END = "<!-- profile-speed:begin -->", "<!-- profile-speed:end -->"


def write_docs(lines: list[str], path: Path) -> None:
    """Replace the marked section of docs/benchmarks.md (appended if absent) with ``lines``."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    body = "\n".join([BEGIN, "```", *lines, "```", END])
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Counter overhead (`bench/profile_speed.py`)\n\n" + body + "\n"
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, torch.get_num_threads()],
                        help="thread counts to measure the ResNet-50 ratios at (default: 1 and "
                        "all)")
    parser.add_argument("--write-docs", action="store_true",
                        help="also write the results into docs/benchmarks.md")
    args = parser.parse_args()
    lines = [
        f"{time.strftime('%Y-%m-%d')}: {platform.machine()} {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}, torch {torch.__version__}, "
        f"flopwise {flopwise.__version__}, median of {args.repeats} interleaved runs",
    ]
    for threads in dict.fromkeys(args.threads):
        torch.set_num_threads(threads)
        ratios = resnet_ratios(args.repeats)
        lines += [
            f"threads {threads}:",
            f"  resnet50 plain forward (real, CPU):   {ratios['forward_s'] * 1e3:8.1f} ms",
            f"  resnet50 profile (real, CPU):         {ratios['profile_real_s'] * 1e3:8.1f} ms  "
            f"ratio {ratios['real_ratio']:.2f}x  (target <= 1.3x)",
            f"  resnet50 profile (meta):              {ratios['profile_meta_s'] * 1e3:8.1f} ms  "
            f"ratio {ratios['meta_ratio']:.2f}x of a real forward  (target <= 0.6x)",
        ]
    llama = llama_70b_cli()
    lines.append(
        f"llama-2-70b config, `flopwise profile hf:config.json --input 1,2048` (meta): "
        f"{llama['wall_s']:.1f} s wall ({llama['in_process_s']:.1f} s in process), "
        f"peak RSS {llama['peak_rss_gib']:.2f} GiB (target < 2 GiB), "
        f"params {llama['params']:,}, FLOPs {llama['flops']:,}")
    print("\n".join(lines))
    if args.write_docs:
        write_docs(lines, Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
