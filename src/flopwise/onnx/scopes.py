"""From ONNX node names to module names: the module tree of an exported model.

Three sources, most exact first:

1. **torch.export-based exporter** (``torch.onnx.export(..., dynamo=True)``): each node carries
   ``pkg.torch.onnx.name_scopes`` metadata, the list of module names from the root to the op
   (``['', 'layer1', 'layer1.0', 'layer1.0.conv1', 'conv2d_3']``); the module is the entry
   before the op's own name.
2. **Slash-scoped names** (the TorchScript exporter: ``/layer1/layer1.0/conv1/Conv``; tf2onnx:
   ``model/dense/MatMul``): the segments before the last are scopes. The TorchScript exporter
   writes a child of a container with its parent's name as prefix (``layer1`` → ``layer1.0``;
   ``conv`` → ``conv.0`` → ``conv.0.0``), so a segment that starts with the previous segment and
   a dot adds only the rest. A module called twice gets ``_1``, ``_2`` … on its second and later
   scopes (``relu`` and ``relu_1``); such a scope is merged into its sibling without the suffix
   when that sibling exists and no initializer is named under the suffixed scope (a real module
   called ``relu_1`` keeps its name when it owns parameters).
3. **Anything else** (flat names such as ``Conv_0``, empty names): the node belongs to the root.

>>> scope_of_name("/layer1/layer1.0/conv1/Conv")
'layer1.0.conv1'
>>> scope_of_name("/features/features.1/conv/conv.0/conv.0.0/Conv")
'features.1.conv.0.0'
>>> scope_of_name("Conv_0"), scope_of_name("/Flatten")
('', '')
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

__all__ = ["scope_of_name", "scope_of_metadata", "ScopeNames", "NAME_SCOPES_KEY"]

NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
_REPEAT = re.compile(r"^(?P<base>.+)_(?P<n>\d+)$")


def scope_of_name(name: str) -> str:
    """The module name a slash-scoped node name implies (``""``: the root)."""
    if "/" not in name:
        return ""
    segments = [s for s in name.split("/") if s][:-1]
    parts: list[str] = []
    previous: str | None = None
    for segment in segments:
        if previous is not None and segment.startswith(previous + "."):
            parts.append(segment[len(previous) + 1:])
        else:
            parts.append(segment)
        previous = segment
    return ".".join(parts)


def scope_of_metadata(value: str) -> str | None:
    """The module name in ``pkg.torch.onnx.name_scopes`` metadata, or None if unreadable.

    >>> scope_of_metadata("['', 'layer1', 'layer1.0', 'layer1.0.relu', 'relu_1']")
    'layer1.0.relu'
    """
    try:
        scopes = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(scopes, (list, tuple)) or not all(isinstance(s, str) for s in scopes):
        return None
    return scopes[-2] if len(scopes) >= 2 else ""


class ScopeNames:
    """The module name of every node of a graph, with repeated-call scopes merged.

    ``calls[name]`` counts the scopes merged into ``name`` (a module called twice: 2).
    """

    def __init__(self, nodes: Sequence[onnx.NodeProto], initializer_names: Iterable[str]) -> None:
        raw: list[tuple[str, bool]] = []   # (scope, whether it is exact metadata)
        for node in nodes:
            metadata = {entry.key: entry.value for entry in node.metadata_props}
            scoped = metadata.get(NAME_SCOPES_KEY)
            exact = scope_of_metadata(scoped) if scoped is not None else None
            raw.append((exact, True) if exact is not None else (scope_of_name(node.name), False))
        owners = list(initializer_names)
        known = {prefix for name, _ in raw for prefix in _prefixes(name)}
        canonical: dict[tuple[str, bool], str] = {}
        for key in dict.fromkeys(raw):
            name, from_metadata = key
            canonical[key] = name if from_metadata else _merge_repeats(name, known, owners)
        self.modules: list[str] = [canonical[key] for key in raw]
        instances: dict[str, set[str]] = {}
        for (name, _exact), module in canonical.items():
            instances.setdefault(module, set()).add(name)
        self.calls: dict[str, int] = {module: len(names) for module, names in instances.items()}


def _prefixes(name: str) -> list[str]:
    parts = name.split(".") if name else []
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _merge_repeats(name: str, known: set[str], owners: list[str]) -> str:
    """``layer1.0.relu_1`` → ``layer1.0.relu`` when that scope exists and owns no initializer."""
    if not name:
        return name
    merged: list[str] = []
    for part in name.split("."):
        match = _REPEAT.match(part)
        if match:
            original = ".".join([*merged, part])
            sibling = ".".join([*merged, match["base"]])
            if sibling in known and not any(o.startswith(original + ".") for o in owners):
                part = match["base"]
        merged.append(part)
    return ".".join(merged)
