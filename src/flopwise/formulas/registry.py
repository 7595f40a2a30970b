"""The per-operator formula registry.

Keys are operator names as torch prints them: an overload packet (``"aten.mm"``) or one overload
(``"aten.mm.default"``); an overload's entry wins over its packet's. A formula is called as
``formula(result, *args, **kwargs)`` where ``result`` is the op's output (a :class:`TensorSpec`,
or a tuple of them) and every tensor argument has been replaced by a :class:`TensorSpec`.

>>> from flopwise.formulas.registry import FormulaRegistry
>>> from flopwise.formulas.spec import Cost
>>> registry = FormulaRegistry()
>>> @registry.register("mylib.scale", family="custom")
... def scale(result, x, factor):
...     return Cost(elementwise=x.numel)
>>> registry.lookup("mylib.scale.default").family
'custom'
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flopwise.errors import UsageError
from flopwise.formulas.spec import Cost

__all__ = ["Kind", "Entry", "FormulaRegistry", "op_key"]

Formula = Callable[..., Cost]


class Kind(str, Enum):
    """How the engine treats an op: a cost formula, or declared cost-free."""

    FORMULA = "formula"
    ZERO = "zero"


@dataclass(frozen=True)
class Entry:
    """One registered op: its formula (or none, for declared zero ops) and what it assumes."""

    key: str
    kind: Kind
    family: str
    formula: Formula | None = None
    note: str = ""
    moves_data: bool = True  # zero ops that copy data (clone, index) still move bytes

    @property
    def description(self) -> str:
        doc = (self.formula.__doc__ or "").strip().splitlines() if self.formula else []
        return doc[0] if doc else self.note


def op_key(op: Any) -> str:
    """The registry key of an op object or name: ``aten.mm.default``, ``aten.mm``.

    Accepts torch ``OpOverload``/``OpOverloadPacket`` objects and strings in either the
    ``aten.mm`` or the ``aten::mm`` spelling.
    """
    text = op if isinstance(op, str) else str(op)
    return text.replace("::", ".")


class FormulaRegistry:
    """A table from operator name to :class:`Entry`.

    Registering a key twice is an error unless ``override=True``. :meth:`copy` gives an
    independent registry for per-run overrides, so no global state is ever changed.
    """

    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}

    def _add(self, entry: Entry, override: bool) -> None:
        if entry.key in self._entries and not override:
            raise UsageError(
                f"a formula for {entry.key} is already registered; pass override=True to replace it"
            )
        self._entries[entry.key] = entry

    def register(
        self, *ops: Any, family: str, note: str = "", override: bool = False
    ) -> Callable[[Formula], Formula]:
        """Decorator: register ``formula`` for each op in ``ops``."""
        if not ops:
            raise UsageError("register() needs at least one op name or op object")

        def decorate(formula: Formula) -> Formula:
            for op in ops:
                self._add(Entry(op_key(op), Kind.FORMULA, family, formula, note), override)
            return formula

        return decorate

    def register_zero(
        self, *ops: Any, family: str, note: str, moves_data: bool = True, override: bool = False
    ) -> None:
        """Declare ``ops`` cost-free (no FLOPs). ``moves_data=False`` also zeroes their bytes."""
        for op in ops:
            self._add(Entry(op_key(op), Kind.ZERO, family, None, note, moves_data), override)

    def lookup(self, op: Any) -> Entry | None:
        """The entry for an overload (``aten.mm.default``), falling back to its packet."""
        key = op_key(op)
        entry = self._entries.get(key)
        if entry is not None:
            return entry
        packet, _, _overload = key.rpartition(".")
        if packet.count(".") >= 1:
            return self._entries.get(packet)
        return None

    def __contains__(self, op: Any) -> bool:
        return op_key(op) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self) -> list[Entry]:
        """Every entry, sorted by family then key."""
        return sorted(self._entries.values(), key=lambda e: (e.family, e.key))

    def keys(self) -> Iterable[str]:
        return self._entries.keys()

    def subset(self, keep: Callable[[str], bool]) -> FormulaRegistry:
        """A registry with only the entries whose key passes ``keep``."""
        other = FormulaRegistry()
        other._entries = {key: entry for key, entry in self._entries.items() if keep(key)}
        return other

    def copy(self) -> FormulaRegistry:
        """An independent copy: registering on it leaves this registry unchanged."""
        other = FormulaRegistry()
        other._entries = copy.copy(self._entries)
        return other
