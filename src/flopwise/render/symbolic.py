"""A :class:`~flopwise.symbolic.Scaling` as text, Markdown or JSON.

>>> from fractions import Fraction
>>> from flopwise.symbolic import Dimension, Polynomial, Scaling
>>> p = Polynomial(("seq",), {(1,): Fraction(12), (2,): Fraction(2)})
>>> fit = Scaling("net", "macs", (Dimension("seq", 8),), p, p, (), ((8,), (9,), (10,)), ((13,),))
>>> print(render_scaling_text(fit))
net: cost as a polynomial of seq (profiled at seq = 8, 9, 10; checked at seq = 13)
MACs          = 12·seq + 2·seq²
FLOPs (macs)  = 12·seq + 2·seq²
"""

from __future__ import annotations

import json

from flopwise.symbolic import Scaling

__all__ = ["render_scaling_text", "render_scaling_markdown", "render_scaling_json"]


def _sizes(fit: Scaling, points: tuple[tuple[int, ...], ...]) -> str:
    names = ", ".join(d.name for d in fit.dimensions)
    if len(fit.dimensions) == 1:
        values = ", ".join(str(p[0]) for p in points)
    else:
        values = "; ".join("(" + ", ".join(map(str, p)) + ")" for p in points)
    return f"{names} = {values}"


def _headline(fit: Scaling) -> str:
    return (f"{fit.model}: cost as a polynomial of {', '.join(d.name for d in fit.dimensions)} "
            f"(profiled at {_sizes(fit, fit.profiled)}; checked at "
            f"{_sizes(fit, fit.verified)})")


def render_scaling_text(fit: Scaling) -> str:
    """The formulas of the totals, then one line pair per top-level module."""
    flops = f"FLOPs ({fit.convention})"
    width = max(len("MACs"), len(flops)) + 1
    lines = [_headline(fit), f"{'MACs'.ljust(width)} = {fit.macs}",
             f"{flops.ljust(width)} = {fit.flops}"]
    costly = [m for m in fit.modules if m.macs.terms or m.flops.terms]
    if costly:
        free = len(fit.modules) - len(costly)
        lines += ["", "per top-level module" + (f" ({free} more cost nothing):" if free else ":")]
        for module in costly:
            lines += [f"  {module.name}", f"    MACs  = {module.macs}",
                      f"    FLOPs = {module.flops}"]
    return "\n".join(lines)


def render_scaling_markdown(fit: Scaling) -> str:
    """One table: the totals, then each top-level module."""
    lines = [f"**{_headline(fit)}**", "", f"| module | MACs | FLOPs ({fit.convention}) |",
             "|---|---|---|", f"| (total) | `{fit.macs}` | `{fit.flops}` |"]
    lines += [f"| {m.name} | `{m.macs}` | `{m.flops}` |" for m in fit.modules]
    return "\n".join(lines)


def render_scaling_json(fit: Scaling) -> str:
    """:meth:`Scaling.to_dict` (coefficients as exact ``"p/q"`` strings)."""
    return json.dumps(fit.to_dict(), indent=2)
