"""``flopwise check REPORT.json --max-gflops N ...``: a cost gate for CI.

Exit status 0 with one ``budget OK`` line on stdout when every figure is within its budget;
exit status 1 with one ``budget exceeded`` line per exceeded budget on stderr otherwise; exit 2
for a bad flag or a report that lacks a budgeted figure. The same budget flags work on
``flopwise profile`` (:func:`enforce_budget`). Never imports torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from flopwise.cli.app import app, errors_to_exit, stderr, stdout
from flopwise.cli.options import (
    MaxFlops,
    MaxGflops,
    MaxLatencyMs,
    MaxMacs,
    MaxMemory,
    MaxParams,
)

if TYPE_CHECKING:
    from flopwise.budget import Budget
    from flopwise.saved import ReportLike

__all__ = ["check_command", "enforce_budget"]


def enforce_budget(report: ReportLike, budget: Budget, source: str, ok_on_stderr: bool) -> None:
    """Print the verdict; exit 1 when a budget is exceeded.

    Within budget: the one-line summary (on stderr when stdout carries the report itself).
    """
    from flopwise.budget import check_budget

    result = check_budget(report, budget, source)
    if not result.ok:
        for line in result.failure_lines():
            stderr.print(escape(line), highlight=False)
        raise typer.Exit(1)
    (stderr if ok_on_stderr else stdout).print(escape(result.summary()), highlight=False,
                                                soft_wrap=True)


@app.command("check")
def check_command(
    report: Path = typer.Argument(..., metavar="REPORT.json",
                                  help="A saved report (flopwise profile -f json -o FILE)."),
    max_gflops: MaxGflops = None,
    max_flops: MaxFlops = None,
    max_macs: MaxMacs = None,
    max_params: MaxParams = None,
    max_memory: MaxMemory = None,
    max_latency_ms: MaxLatencyMs = None,
) -> None:
    """Check a saved report against cost budgets: exit 1 with one line per exceeded budget."""
    with errors_to_exit():
        from flopwise.budget import NO_BUDGET, Budget
        from flopwise.errors import UsageError
        from flopwise.saved import load_report

        budget = Budget.parse(max_gflops=max_gflops, max_flops=max_flops, max_macs=max_macs,
                              max_params=max_params, max_memory=max_memory,
                              max_latency_ms=max_latency_ms)
        if budget.empty:
            raise UsageError(NO_BUDGET)
        enforce_budget(load_report(report), budget, str(report), ok_on_stderr=False)
