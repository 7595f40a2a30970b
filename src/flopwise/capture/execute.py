"""When counting runs the model's arithmetic: the ``execute`` choice and how a run was made.

Counting needs shapes, not values, so a real model is counted on *shadows* by default: meta
stand-ins of its parameters, buffers and tensor inputs, swapped in for the call and swapped back
after (:func:`flopwise.capture.run.shadowed`). Nothing is computed. Only when the model's own code
needs values (``.item()``, ``if tensor:``, ``nonzero``, a shape read from data, a tensor made on
the CPU inside ``forward``) does the shadow run fail, and then the model runs for real, once.

- ``auto`` (default): shadows; a real run when they fail, and the report says why;
- ``always``: a real run (e.g. to count mixture-of-experts routing from the real batch, or any
  op whose count depends on values);
- ``never``: shadows only; a model that needs values is an error instead of a run.

This module imports no torch (the CLI's ``--help`` reads it).

>>> Execute("auto").value, executed_label("ValueError: boom"), executed_label(None)
('auto', 'real (fallback: ValueError: boom)', 'real')
"""

from __future__ import annotations

from enum import Enum

from flopwise.errors import UsageError

__all__ = ["EXECUTE_HELP", "REAL", "SHADOW", "Execute", "executed_label", "parse_execute"]


class Execute(str, Enum):
    """Whether counting a real model runs its arithmetic (see the module)."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


#: ``RunInfo.executed`` for a run on shadows (nothing computed).
SHADOW = "shadow"
#: ``RunInfo.executed`` for a real run asked for with ``execute="always"``.
REAL = "real"

EXECUTE_HELP = (
    "How a model built on cpu/cuda is counted: auto (on shape-only meta shadows of its "
    "weights and inputs, nothing computed; run for real, once, only if its code needs values), "
    "always (run for real, e.g. to count MoE routing from the real batch), never (shadows "
    "only; fail if values are needed)."
)


def executed_label(reason: str | None) -> str:
    """``RunInfo.executed`` for a real run: ``real``, or ``real (fallback: reason)`` when the
    shadow run failed for ``reason``."""
    if reason is None:
        return REAL
    return f"{REAL} (fallback: {reason})"


def parse_execute(value: Execute | str) -> Execute:
    """``value`` as an :class:`Execute`, or a :class:`~flopwise.UsageError` naming the choices."""
    try:
        return Execute(value)
    except ValueError:
        choices = ", ".join(repr(e.value) for e in Execute)
        raise UsageError(f"execute={value!r} is not a counting choice; use one of {choices}"
                         ) from None
