"""A tool convention's per-event counts, summed the way a report asks for them: per module
(self or inclusive, per phase) and per op."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flopwise.capture.events import OpEvent, Phase
from flopwise.conventions import Convention
from flopwise.tree import ModuleTree

__all__ = ["TracedFlops"]


@dataclass(frozen=True)
class TracedFlops:
    """Sums of the per-event counts: ``own[module][phase]``, ``inclusive[module][phase]``,
    ``ops[(op, phase)]``."""

    own: dict[str, dict[Phase, int]]
    inclusive: dict[str, dict[Phase, int]]
    ops: dict[tuple[str, Phase], int]

    @classmethod
    def of(cls, convention: Convention, events: Sequence[OpEvent],
           tree: ModuleTree) -> TracedFlops:
        from flopwise.compat import tool_flops

        own: dict[str, dict[Phase, int]] = defaultdict(lambda: defaultdict(int))
        ops: dict[tuple[str, Phase], int] = defaultdict(int)
        for event, flops in zip(events, tool_flops(convention, events, tree), strict=True):
            own[event.module][event.phase] += flops
            ops[(event.op, event.phase)] += flops
        inclusive: dict[str, dict[Phase, int]] = {}
        for node in reversed(list(tree.walk())):     # children before their parents
            total: dict[Phase, int] = defaultdict(int, own.get(node.name, {}))
            for child in node.children:
                for phase, flops in inclusive[child].items():
                    total[phase] += flops
            inclusive[node.name] = total
        return cls(dict(own), inclusive, dict(ops))

    def module_flops(self, name: str, inclusive: bool = True, phase: Phase | None = None) -> int:
        table = (self.inclusive if inclusive else self.own).get(name, {})
        return sum(table.values()) if phase is None else table.get(phase, 0)

    def op_flops(self, op: str, phase: Phase | None = None) -> int:
        return sum(flops for (name, ph), flops in self.ops.items()
                   if name == op and (phase is None or ph is phase))
