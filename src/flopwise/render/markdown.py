"""The report as Markdown: the module table, phases, totals, unsupported ops and notes.

Cells read as in the text table (SI prefixes for counts, IEC for bytes, units in the headers);
names are state_dict-style without indentation, the root shown as ``(root)``.

>>> import torch, flopwise
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
>>> report = flopwise.profile(model, torch.randn(4, 8))
>>> print(render_markdown(report, columns="name,flops").splitlines()[4])
| module | FLOPs |
"""

from __future__ import annotations

from collections.abc import Sequence

from flopwise.render import sections
from flopwise.render.columns import cell_text, parse_columns
from flopwise.render.view import Viewable, as_view

__all__ = ["render_markdown", "markdown_table"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                   numeric: Sequence[bool]) -> list[str]:
    """A pipe table: numbers right-aligned, text left-aligned."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if n else ":---" for n in numeric) + "|"]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def render_markdown(report: Viewable, columns: str | Sequence[str] | None = None,
                    max_depth: int | None = None) -> str:
    """The report as a Markdown document (module rows down to ``max_depth``)."""
    view = as_view(report)
    chosen = parse_columns(columns, view)
    lines = [f"## flopwise: {sections.run_line(view)}", "",
             f"### Modules (FLOPs: {view.convention})", ""]
    rows = [[cell_text(c, row, view, row.name in view.ran, indent=False) for c in chosen]
            for row in view.modules(max_depth)]
    lines += markdown_table([c.header for c in chosen], rows, [c.numeric for c in chosen])
    if len(view.phases) > 1:
        lines += ["", "### Phases", ""]
        lines += markdown_table(sections.PHASE_HEADERS, sections.phase_rows(view),
                                [False] + [True] * 5)
    lines += ["", f"### Totals (convention: {view.convention})", ""]
    lines += markdown_table(("total", "value"), sections.totals(view), (False, True))
    for title, pairs in sections.extra_sections(view):
        lines += ["", f"### {title}", ""]
        lines += markdown_table(("", "value"), pairs, (False, True))
    if view.unsupported:
        lines += ["", "### Unsupported ops (not counted)", ""]
        lines += markdown_table(sections.UNSUPPORTED_HEADERS, sections.unsupported_rows(view),
                                (False, True))
        lines += ["", f"> {sections.STRICT_HINT}"]
    lines += [""] + [f"- {note}" for note in sections.notes(view)]
    return "\n".join(lines) + "\n"
