"""The module tree: built once per run, with self and inclusive raw costs per phase.

Names are the ``state_dict``-style names of ``named_modules()`` (root ``""``); a module shared
under several names is listed once, under its first name, and its parameters count once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flopwise.capture.events import OpEvent, Phase
from flopwise.formulas.spec import ZERO_COST, Cost

__all__ = ["ModuleNode", "ModuleTree", "parent_name"]


def parent_name(name: str) -> str | None:
    """``"layer1.0.conv1"`` → ``"layer1.0"``; the root's parent is None."""
    if name == "":
        return None
    return name.rpartition(".")[0]


def _depth(node: ModuleNode) -> int:
    return node.depth


def _own(total: list[Any]) -> Cost:
    """A module's own cost in one phase from its sums: the event's own :class:`Cost` when it
    had one event there (a plain ``Cost`` with its bytes filled), else a new one."""
    only = total[6]
    if (only is not None and type(only) is Cost and only.bytes_read is not None
            and only.bytes_written is not None):
        return only  # type: ignore[no-any-return]
    return Cost(*total[:6])


def _add(a: Cost, b: Cost) -> Cost:
    return Cost(a.macs + b.macs, a.dot_outputs + b.dot_outputs, a.bias_adds + b.bias_adds,
                a.elementwise + b.elementwise, (a.bytes_read or 0) + (b.bytes_read or 0),
                (a.bytes_written or 0) + (b.bytes_written or 0))


@dataclass
class ModuleNode:
    """One module: identity, parameters, calls, and raw costs per phase (self and inclusive).

    ``calls`` counts the module's own forward calls; ``ran`` also holds for a container whose
    modules ran (a ``ModuleList`` is never called). Reports show ``ran`` as ``called``.
    """

    name: str
    type: str
    own_params: int = 0
    own_trainable: int = 0
    params: int = 0
    trainable_params: int = 0
    calls: int = 0
    output_bytes: int = 0
    children: list[str] = field(default_factory=list)
    self_cost: dict[Phase, Cost] = field(default_factory=dict)
    inclusive_cost: dict[Phase, Cost] = field(default_factory=dict)
    ops: int = 0

    @property
    def depth(self) -> int:
        return 0 if self.name == "" else self.name.count(".") + 1

    ran: bool = False  # it, or a module inside it, was called (containers are never called)

    def self_total(self) -> Cost:
        total = ZERO_COST
        for cost in self.self_cost.values():
            total = _add(total, cost)
        return total

    def inclusive_total(self) -> Cost:
        total = ZERO_COST
        for cost in self.inclusive_cost.values():
            total = _add(total, cost)
        return total


class ModuleTree:
    """Modules in ``named_modules()`` order with costs aggregated from the op events."""

    def __init__(self, nodes: Iterable[ModuleNode], events: Iterable[OpEvent]) -> None:
        self.nodes: dict[str, ModuleNode] = {node.name: node for node in nodes}
        if "" not in self.nodes:
            self.nodes = {"": ModuleNode("", "function"), **self.nodes}
        for node in self.nodes.values():
            parent = self._existing_parent(node.name)
            if parent is not None:
                self.nodes[parent].children.append(node.name)
        self._aggregate(events)

    def _existing_parent(self, name: str) -> str | None:
        parent = parent_name(name)
        while parent is not None and parent not in self.nodes:
            parent = parent_name(parent)
        return parent

    def _aggregate(self, events: Iterable[OpEvent]) -> None:
        """Self costs from the events; inclusive costs and parameters bottom-up. Sums are plain
        ints, and a node gets a new :class:`Cost` per phase only where it has children."""
        nodes = self.nodes
        sums: dict[str, dict[Phase, list[Any]]] = {}
        ops: dict[str, int] = {}
        for event in events:
            phases = sums.get(event.module)
            if phases is None:
                phases = sums[event.module] = {}
                ops[event.module] = 0
            ops[event.module] += 1
            total = phases.get(event.phase)
            cost = event.cost
            if total is None:   # six sums, then the first event's cost (see below)
                total = phases[event.phase] = [0, 0, 0, 0, 0, 0, cost]
            else:
                total[6] = None
            total[0] += cost.macs
            total[1] += cost.dot_outputs
            total[2] += cost.bias_adds
            total[3] += cost.elementwise
            total[4] += cost.bytes_read or 0
            total[5] += cost.bytes_written or 0
        for name, phases in sums.items():
            node = nodes[name]
            # a module's only event in a phase, a plain Cost with its bytes: its own cost is that
            node.self_cost = {phase: _own(total) for phase, total in phases.items()}
            node.ops += ops[name]
        # children before parents: a parent's name is a prefix of its children's, so deeper
        inclusive_sums: dict[str, dict[Phase, list[Any]]] = {}
        for node in sorted(nodes.values(), key=_depth, reverse=True):
            params, trainable = node.own_params, node.own_trainable
            ran = node.calls > 0
            own = sums.get(node.name, {})
            if not node.children:
                node.inclusive_cost = dict(node.self_cost)
                inclusive_sums[node.name] = own
            else:
                totals = {phase: total[:6] for phase, total in own.items()}
                for child_name in node.children:
                    child = nodes[child_name]
                    ran = ran or child.ran
                    params += child.params
                    trainable += child.trainable_params
                    for phase, child_total in inclusive_sums.pop(child_name).items():
                        total = totals.get(phase)
                        if total is None:
                            totals[phase] = child_total[:6]
                        else:
                            for index in range(6):
                                total[index] += child_total[index]
                node.inclusive_cost = {phase: Cost(*total[:6]) for phase, total in totals.items()}
                inclusive_sums[node.name] = totals
            node.ran = ran
            node.params, node.trainable_params = params, trainable

    @property
    def root(self) -> ModuleNode:
        return self.nodes[""]

    def walk(self, max_depth: int | None = None) -> Iterator[ModuleNode]:
        """Pre-order (parents before children, children in definition order)."""
        stack = [""]
        while stack:
            node = self.nodes[stack.pop()]
            if max_depth is not None and node.depth > max_depth:
                continue
            yield node
            stack.extend(reversed(node.children))
