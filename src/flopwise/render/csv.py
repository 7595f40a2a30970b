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

from flopwise.render.columns import cell_value, parse_columns
from flopwise.render.view import Viewable, as_view

__all__ = ["render_csv"]


def render_csv(report: Viewable, columns: str | Sequence[str] | None = None,
               max_depth: int | None = None) -> str:
    """The module rows down to ``max_depth`` as CSV text (``\\n`` line ends)."""
    view = as_view(report)
    chosen = parse_columns(columns, view)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([c.key for c in chosen] + ["called", "convention"])
    for row in view.modules(max_depth):
        writer.writerow([cell_value(c, row, view) for c in chosen]
                        + ["true" if row.name in view.ran else "false", view.convention])
    return buffer.getvalue()
