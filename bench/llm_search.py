"""Speed of the plan search: `flopwise llm llama-3-70b --gpus 1024 --hardware h100-sxm --search`.

Times the whole command in a fresh interpreter (wall clock and the child's CPU time, which a
busy machine does not inflate), next to `flopwise llm --help` (the CLI's own start-up) and a
bare `python -c pass`; then the search alone, in this process. Prints each, the ratio of the
search command to the start-up, the target (2 s) and whether the best layout fits.

    python bench/llm_search.py [--repeats 5] [--gpus 1024] [--preset llama-3-70b]

Timings are reported, not asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TARGET_S = 2.0


def _run(command: list[str], repeats: int) -> tuple[list[float], list[float], str]:
    walls, cpus, output = [], [], ""
    for _ in range(repeats):
        before = os.times()
        start = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append((after.children_user - before.children_user)
                    + (after.children_system - before.children_system))
        output = done.stdout
    return walls, cpus, output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gpus", type=int, default=1024)
    parser.add_argument("--preset", default="llama-3-70b")
    args = parser.parse_args()
    python = sys.executable
    search_args = ["llm", args.preset, "--gpus", str(args.gpus), "--hardware", "h100-sxm", "--search"]
    cases = {
        "python -c pass": [python, "-c", "pass"],
        "flopwise llm --help": [python, "-m", "flopwise", "llm", "--help"],
        "flopwise " + " ".join(search_args): [python, "-m", "flopwise", *search_args],
        "  ... -f json": [python, "-m", "flopwise", *search_args, "-f", "json"],
    }
    print(f"{'command':<72} {'wall min s':>10} {'wall med s':>10} {'cpu med s':>9}  ({args.repeats} runs)")
    medians: dict[str, float] = {}
    document: dict = {}
    for label, command in cases.items():
        walls, cpus, output = _run(command, args.repeats)
        medians[label] = statistics.median(cpus)
        print(f"{label:<72} {min(walls):>10.3f} {statistics.median(walls):>10.3f} {medians[label]:>9.3f}")
        if label.endswith("-f json"):
            document = json.loads(output)

    from flopwise.llm.config import load_spec
    from flopwise.llm.search import search

    spec = load_spec(args.preset)
    in_process = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = search(spec, gpus=args.gpus, hardware="h100-sxm")
        in_process.append(time.perf_counter() - start)
    print(f"{'search() in this process (' + str(result.considered) + ' layouts)':<72} "
          f"{min(in_process):>10.3f} {statistics.median(in_process):>10.3f}")
    command = medians["flopwise " + " ".join(search_args)]
    startup = medians["flopwise llm --help"]
    print(f"ratio, CPU: search command / CLI start-up = {command / startup:.2f}; "
          f"search command {command:.3f} s against the {TARGET_S:.0f} s target")
    best = document["plans"][0]
    print(f"best layout: {best['layout']}, {best['memory']['total_bytes'] / 2**30:.1f} GiB of "
          f"{best['memory']['capacity_bytes'] / 2**30:.1f} GiB, fits: {best['memory']['fits']}")
    return 0 if best["memory"]["fits"] else 1


if __name__ == "__main__":
    sys.exit(main())
