"""Startup benchmark of the LLM planner: `flopwise llm PRESET` and `import flopwise.llm`.

Runs each command in a fresh interpreter several times and prints the wall-clock seconds
(minimum and median), next to a bare `python -c pass` for reference; then checks, in a fresh
interpreter, that planning every preset leaves torch out of sys.modules.

    python bench/llm_startup.py [--repeats 10] [--preset llama-3-70b]

Exits 1 if torch gets imported. Timings are reported, not asserted: they depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

NO_TORCH_CHECK = """
import sys
import flopwise.llm as llm
from flopwise.cli import main
for name in llm.preset_names():
    llm.plan(name)
sys.argv = ["flopwise", "llm", "llama-3-70b", "--format", "json"]
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print("torch imported:", "torch" in sys.modules, file=sys.stderr)
sys.exit(1 if "torch" in sys.modules else 0)
"""


def _time_command(command: list[str], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        timings.append(time.perf_counter() - start)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--preset", default="llama-3-70b")
    args = parser.parse_args()
    python = sys.executable
    cases = {
        "python -c pass (baseline)": [python, "-c", "pass"],
        "import flopwise.llm": [python, "-c", "import flopwise.llm"],
        "import flopwise.llm + plan()": [python, "-c", f"import flopwise.llm as l; l.plan({args.preset!r})"],
        f"flopwise llm {args.preset}": [python, "-m", "flopwise", "llm", args.preset],
        f"flopwise llm {args.preset} -f json": [python, "-m", "flopwise", "llm", args.preset, "-f", "json"],
    }
    print(f"{'command':<40} {'min s':>8} {'median s':>9}  ({args.repeats} runs, {python})")
    for label, command in cases.items():
        timings = _time_command(command, args.repeats)
        print(f"{label:<40} {min(timings):>8.3f} {statistics.median(timings):>9.3f}")
    check = subprocess.run([python, "-c", NO_TORCH_CHECK], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    print(check.stderr.strip() or f"torch check exited {check.returncode}")
    return check.returncode


if __name__ == "__main__":
    sys.exit(main())
