"""The module table as CSV: one row per module, exact integers, for spreadsheets and scripts.

Headers are the column keys (``bytes_read``: bytes; ``macs``, ``flops``: counts; ``%flops``: a
percentage of the total FLOPs), followed by ``called`` (whether the module ran: it was called,
or, for a container such as ``ModuleList``, one of its modules was) and
``convention`` (the name of the convention that made the FLOPs), so every row says how its
FLOPs were counted. Names are state_dict-style, the root an empty string.

>>> import torch, flopwise
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
>>> report = flopwise.profile(model, torch.randn(4, 8))
>>> print(render_csv(report, columns="name,macs,flops"), end="")
name,macs,flops,called,convention
,640,1344,true,standard
0,512,1024,true,standard
1,0,64,true,standard
2,128,256,true,standard
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from flopwise.render.columns import cell_value, modules_that_ran, parse_columns
from flopwise.report import Report

__all__ = ["render_csv"]


def render_csv(report: Report, columns: str | Sequence[str] | None = None,
               max_depth: int | None = None) -> str:
    """The module rows down to ``max_depth`` as CSV text (``\\n`` line ends)."""
    chosen = parse_columns(columns, report)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in chosen] + ["called", "convention"])
    ran = modules_that_ran(report)
    for row in report.modules(max_depth):
        writer.writerow([cell_value(c, row, report) for c in chosen]
                        + ["true" if row.name in ran else "false", report.convention.name])
    return buffer.getvalue()
