"""flopwise's ``fvcore`` and ``thop`` conventions against fvcore's and thop's own totals, on
every model of the peer benchmark (issue 19).

Needs fvcore and thop importable (``bash bench/peers/run.sh`` installs them into
bench/_envs/peers; any environment with the versions of requirements.txt will do):

    PYTHONPATH=src:. python -m bench.peers.conventions [--cases resnet18,gpt2] [--out FILE]

``--docs`` rewrites the table's section of docs/benchmarks.md (between
``<!-- conventions:begin -->`` and ``<!-- conventions:end -->``); ``--from-json FILE`` renders
rows saved by an earlier ``--json FILE`` instead of measuring again.

Each model is built once, profiled by flopwise first (flopwise leaves it as found), then counted
by fvcore and by thop (thop adds buffers to the model, so it goes last). Prints a Markdown
table; ``--out`` also writes it.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from dataclasses import dataclass

from bench.peers.cases import Case, all_cases
from bench.peers.tools import quiet, tool_by_name

__all__ = ["Row", "compare", "main"]

#: Exceptions allowed by issue 19: within 0.1 % of the tool, with the reason written next to it.
TOLERANCE = 0.001
BEGIN, END = "<!-- conventions:begin -->", "<!-- conventions:end -->"
DOCS = "docs/benchmarks.md"

#: Why a row is not exact (measured differences, explained from the tools' source).
REASONS: dict[tuple[str, str], str] = {
    ("densenet121", "fvcore"): "the final pool is a functional `F.adaptive_avg_pool2d(x, (1, 1))`"
    " in `forward`: fvcore sees `aten::adaptive_avg_pool2d` (1 per input element, 1024·7·7 = "
    "50,176); below autograd it is a `mean`, recognised as a pool only inside "
    "`nn.AdaptiveAvgPool2d`",
    ("mobilenet_v2", "fvcore"): "the same functional pool (1280·7·7 = 62,720)",
    ("maxvit_t", "fvcore"): "fvcore counts the attention's `einsum` from numpy's printed "
    "`einsum_path` estimate, rounded to 4 significant digits (2,459,000 for 2,458,624 MACs "
    "per block); flopwise counts the exact MACs",
}


@dataclass(frozen=True)
class Row:
    """One model: flopwise's convention and the tool's total (None: the tool failed)."""

    case: str
    tool: str
    flopwise: int
    peer: int | None
    note: str = ""

    @property
    def relative(self) -> float | None:
        if self.peer is None or self.peer == 0:
            return None
        return (self.flopwise - self.peer) / self.peer

    def verdict(self) -> str:
        if self.peer is None:
            return f"{self.tool} fails: {self.note}"
        if self.flopwise == self.peer:
            return "exact"
        rel = self.relative or 0.0
        within = "within 0.1 %" if abs(rel) <= TOLERANCE else "**over 0.1 %**"
        reason = REASONS.get((self.case, self.tool), "no reason known")
        return f"{self.flopwise - self.peer:+,} ({rel:+.4%}, {within}): {reason}"


def compare(case: Case) -> list[Row]:
    """Both tools on one case (on meta for the meta-only cases: the tools fail there)."""
    import flopwise

    built = case.build("meta" if case.meta_only else "cpu")
    report = flopwise.profile(built.model, built.args, built.kwargs)
    rows = []
    for tool in ("fvcore", "thop"):
        mine = report.using(tool).total.flops
        try:
            with quiet():
                peer = tool_by_name(tool).count(built)
            rows.append(Row(case.name, tool, mine, int(next(iter(peer.raw.values())))))
        except Exception as error:  # noqa: BLE001 - a tool that cannot count this model
            rows.append(Row(case.name, tool, mine, None,
                            f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"))
    return rows


def table(rows: list[Row]) -> str:
    lines = ["| model | tool | tool's total | flopwise convention | difference |",
             "|---|---|---:|---:|---|"]
    for row in rows:
        peer = "—" if row.peer is None else f"{row.peer:,}"
        lines.append(f"| {row.case} | {row.tool} | {peer} | {row.flopwise:,} | "
                     f"{row.verdict()} |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    compared = [row for row in rows if row.peer is not None]
    exact = sum(row.flopwise == row.peer for row in compared)
    close = sum(row.flopwise != row.peer and abs(row.relative or 0.0) <= TOLERANCE
                for row in compared)
    failed = len(rows) - len(compared)
    return (f"{len(compared)} model × tool pairs compared: {exact} exact, {close} within 0.1 % "
            f"(reason beside each), {len(compared) - exact - close} over; the tool itself "
            f"failed on {failed} (flopwise's convention still gives a number there).")


def write_docs(rows: list[Row], path: str = DOCS) -> None:
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    block = f"{BEGIN}\n{summary(rows)}\n\n{table(rows)}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    parser.add_argument("--out", default="", help="also write the table (Markdown) here")
    parser.add_argument("--json", default="", help="also write the rows (JSON) here")
    parser.add_argument("--from-json", default="", help="render rows saved by --json")
    parser.add_argument("--docs", action="store_true", help=f"rewrite the section of {DOCS}")
    args = parser.parse_args(argv)
    wanted = {name for name in args.cases.split(",") if name}
    rows: list[Row] = []
    if args.from_json:
        with open(args.from_json, encoding="utf-8") as handle:
            rows = [Row(**row) for row in json.load(handle)]
    for case in [] if args.from_json else all_cases():
        if wanted and case.name not in wanted:
            continue
        try:
            new = compare(case)
        except Exception:  # noqa: BLE001 - a case flopwise cannot build here: say so, go on
            traceback.print_exc()
            continue
        rows.extend(new)
        print("\n".join(table(new).splitlines()[2:]), file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if args.docs:
        write_docs(rows)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump([vars(row) for row in rows], handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
