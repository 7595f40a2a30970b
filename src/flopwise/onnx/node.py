"""What an ONNX formula sees of one node: its op, attributes and the specs of its values.

ONNX formulas are called as ``formula(node)`` with an :class:`OnnxNode`; they read tensor specs
with :meth:`OnnxNode.input` / :meth:`OnnxNode.output` (which raise :class:`ShapeUnknown` when
shape inference left a dimension open) and return a :class:`~flopwise.formulas.spec.Cost`.

>>> from flopwise.formulas.spec import TensorSpec
>>> node = OnnxNode.of("Relu", inputs=[TensorSpec((2, 3))], outputs=[TensorSpec((2, 3))])
>>> node.output(0).numel, node.has_input(1)
(6, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flopwise.formulas.spec import TensorSpec

__all__ = ["OnnxNode", "ShapeUnknown", "op_key_of"]


class ShapeUnknown(Exception):
    """A formula needed the shape of a value that shape inference could not resolve."""

    def __init__(self, value: str, role: str) -> None:
        super().__init__(f"the shape of {role} {value!r} is unknown")
        self.value = value
        self.role = role


def op_key_of(op_type: str, domain: str) -> str:
    """Registry key of an op: ``Conv`` for the default domain, ``com.microsoft.Attention``.

    >>> op_key_of("Conv", ""), op_key_of("Conv", "ai.onnx"), op_key_of("Attention", "com.microsoft")
    ('Conv', 'Conv', 'com.microsoft.Attention')
    """
    return op_type if domain in ("", "ai.onnx") else f"{domain}.{op_type}"


@dataclass(frozen=True)
class OnnxNode:
    """One node: op, name, attributes (plain Python values) and the specs of its values.

    ``input_names`` / ``output_names`` hold ``""`` for omitted optional values; the spec tuples
    hold ``None`` where a value is omitted or its shape is unknown.
    """

    op_type: str
    name: str = ""
    domain: str = ""
    input_names: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    input_specs: tuple[TensorSpec | None, ...] = ()
    output_specs: tuple[TensorSpec | None, ...] = ()
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, op_type: str, inputs: Sequence[TensorSpec | None] = (),
           outputs: Sequence[TensorSpec | None] = (), domain: str = "",
           **attrs: Any) -> OnnxNode:
        """A node from specs alone (for tests and custom formulas); omitted inputs are None."""
        return cls(
            op_type, op_type, domain,
            tuple(f"in{i}" if s is not None else "" for i, s in enumerate(inputs)),
            tuple(f"out{i}" if s is not None else "" for i, s in enumerate(outputs)),
            tuple(inputs), tuple(outputs), dict(attrs),
        )

    @property
    def key(self) -> str:
        return op_key_of(self.op_type, self.domain)

    def has_input(self, index: int) -> bool:
        """Whether optional input ``index`` is given."""
        return index < len(self.input_names) and bool(self.input_names[index])

    def has_output(self, index: int) -> bool:
        return index < len(self.output_names) and bool(self.output_names[index])

    def input(self, index: int) -> TensorSpec:
        """The spec of input ``index``; :class:`ShapeUnknown` if its shape is not resolved."""
        return self._spec(self.input_names, self.input_specs, index, f"input {index}")

    def output(self, index: int = 0) -> TensorSpec:
        """The spec of output ``index``; :class:`ShapeUnknown` if its shape is not resolved."""
        return self._spec(self.output_names, self.output_specs, index, f"output {index}")

    def inputs(self) -> list[TensorSpec]:
        """Specs of every given input (each must be resolved)."""
        return [self.input(i) for i in range(len(self.input_names)) if self.has_input(i)]

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attrs.get(name, default)

    def _spec(self, names: tuple[str, ...], specs: tuple[TensorSpec | None, ...], index: int,
              role: str) -> TensorSpec:
        if index >= len(names) or not names[index]:
            raise ValueError(f"{self.op_type} node {self.name!r} has no {role}")
        spec = specs[index] if index < len(specs) else None
        if spec is None:
            raise ShapeUnknown(names[index], role)
        return spec
