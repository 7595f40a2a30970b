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
from typing import Any, TypeVar

from flopwise.errors import UsageError
from flopwise.formulas.spec import Cost

__all__ = ["EntryKind", "Entry", "FormulaRegistry", "FormulaTable", "op_key"]

Formula = Callable[..., Cost]
F = TypeVar("F", bound=Formula)


class EntryKind(str, Enum):
    """How the engine treats an op: a cost formula, or declared cost-free."""

    FORMULA = "formula"
    ZERO = "zero"


@dataclass(frozen=True)
class Entry:
    """One registered op: its formula (or none, for declared zero ops) and what it assumes."""

    key: str
    kind: EntryKind
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


class FormulaTable:
    """One op family's formulas, declared where they are defined.

    A family module makes one table and decorates its module-level formulas onto it; the
    package finds every family module's ``TABLE`` and adds it to the built-in registry, so a new
    family is one new module (and its test module).

    >>> TABLE = FormulaTable("custom")
    >>> @TABLE.formula("mylib.scale")
    ... def scale(result, x, factor):
    ...     return Cost(elementwise=x.numel)
    >>> TABLE.zero("mylib.view_as_mine", note="a view", moves_data=False)
    >>> [(entry.key, entry.kind.value) for entry in TABLE.entries()]
    [('mylib.scale', 'formula'), ('mylib.view_as_mine', 'zero')]
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: list[Entry] = []

    def formula(self, *ops: Any, note: str = "", family: str | None = None) -> Callable[[F], F]:
        """Decorator: ``formula`` costs each op in ``ops`` (under ``family``, default the
        table's); the function is returned unchanged, so it stays importable and callable."""
        if not ops:
            raise UsageError("formula() needs at least one op name or op object")

        def decorate(formula: F) -> F:
            for op in ops:
                self._entries.append(
                    Entry(op_key(op), EntryKind.FORMULA, family or self.family, formula, note))
            return formula

        return decorate

    def zero(self, *ops: Any, note: str, moves_data: bool = True) -> None:
        """Declare ``ops`` cost-free (no FLOPs); ``moves_data=False`` also zeroes their bytes."""
        for op in ops:
            self._entries.append(
                Entry(op_key(op), EntryKind.ZERO, self.family, None, note, moves_data))

    def entries(self) -> tuple[Entry, ...]:
        """The declarations, in the order they were made."""
        return tuple(self._entries)


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
                self._add(Entry(op_key(op), EntryKind.FORMULA, family, formula, note), override)
            return formula

        return decorate

    def register_zero(
        self, *ops: Any, family: str, note: str, moves_data: bool = True, override: bool = False
    ) -> None:
        """Declare ``ops`` cost-free (no FLOPs). ``moves_data=False`` also zeroes their bytes."""
        for op in ops:
            self._add(Entry(op_key(op), EntryKind.ZERO, family, None, note, moves_data), override)

    def add_table(self, table: FormulaTable, override: bool = False) -> None:
        """Register every entry of a family's table (duplicates are an error unless
        ``override=True``)."""
        for entry in table.entries():
            self._add(entry, override)

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
