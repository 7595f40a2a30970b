"""An :class:`~flopwise.explain.Explanation` as text, Markdown or JSON.

>>> from flopwise.explain import Explanation, Part
>>> why = Explanation("net", "macs", "fvcore", 1000, 1128, (Part("normalisation", 0, 128),),
...                   (Part("aten.native_batch_norm", 0, 128),), (Part("1", 0, 128),))
>>> print(render_explanation_text(why).splitlines()[0])
net: fvcore − macs = +128 FLOPs (1,000 → 1,128)
"""

from __future__ import annotations

import json

from flopwise.explain import Explanation, Part
from flopwise.render.diff import signed_count
from flopwise.render.units import format_grouped
from flopwise.render.view import label

__all__ = ["render_explanation_text", "render_explanation_markdown", "render_explanation_json"]

_SPLITS = (("by op family", "by_family"), ("by op", "by_op"), ("by module (self)", "by_module"))


def _headline(why: Explanation) -> str:
    return (f"{why.model}: {why.second} − {why.first} = {signed_count(why.difference)} FLOPs "
            f"({format_grouped(why.first_total)} → {format_grouped(why.second_total)})")


def _shown(parts: tuple[Part, ...], top: int | None) -> tuple[list[Part], Part | None]:
    """The ``top`` largest parts and one line adding up the rest (so the lines still sum)."""
    if top is None or len(parts) <= top:
        return list(parts), None
    rest = parts[top:]
    return list(parts[:top]), Part(f"{len(rest)} others", sum(p.first for p in rest),
                                   sum(p.second for p in rest))


def _rows(why: Explanation, key: str, top: int | None) -> list[tuple[str, str, str, str]]:
    parts, rest = _shown(getattr(why, key), top)
    return [(label(p.name), signed_count(p.delta), format_grouped(p.first),
             format_grouped(p.second)) for p in parts + ([rest] if rest else [])]


def render_explanation_text(why: Explanation, top: int | None = 10) -> str:
    """Aligned plain-text tables, one per split, the largest share first."""
    lines = [_headline(why)]
    for title, key in _SPLITS:
        rows = [("", "Δ FLOPs", why.first, why.second), *_rows(why, key, top)]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines.append("")
        lines.append(f"{title}:")
        for row in rows:
            lines.append("  " + "  ".join(
                cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i])
                for i, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def render_explanation_markdown(why: Explanation, top: int | None = 10) -> str:
    """One Markdown table per split."""
    lines = [f"**{_headline(why)}**"]
    for title, key in _SPLITS:
        lines += ["", f"| {title} | Δ FLOPs | {why.first} | {why.second} |",
                  "|---|---:|---:|---:|"]
        lines += [f"| {' | '.join(row)} |" for row in _rows(why, key, top)]
    return "\n".join(lines)


def render_explanation_json(why: Explanation) -> str:
    """Every part, as :meth:`Explanation.to_dict`."""
    return json.dumps(why.to_dict(), indent=2)
