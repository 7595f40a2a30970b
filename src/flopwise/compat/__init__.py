"""Other tools' counting rules, applied to flopwise's events: the ``fvcore`` and ``thop``
conventions (see :mod:`flopwise.conventions`).

Each rule maps the events of one run, with the module tree, to one count per event (forward
events only: both tools count one forward call), so that totals, modules and ops are summed as
for any convention. Nothing is re-run.
"""

from __future__ import annotations

from collections.abc import Sequence

from flopwise.capture.events import OpEvent
from flopwise.conventions import Convention
from flopwise.errors import UsageError
from flopwise.tree import ModuleTree

__all__ = ["tool_flops"]


def tool_flops(convention: Convention, events: Sequence[OpEvent], tree: ModuleTree) -> list[int]:
    """One count per event under a tool convention (``fvcore`` or ``thop``)."""
    if convention.name == "fvcore":
        from flopwise.compat.fvcore import fvcore_flops

        return [fvcore_flops(event, tree) for event in events]
    if convention.name == "thop":
        from flopwise.compat.thop import ThopRules

        rules = ThopRules(tree)
        return [rules.flops(event) for event in events]
    raise UsageError(f"convention {convention.name!r} has no per-event rules")
