"""``profile_onnx``: count an ONNX graph node by node and build the same :class:`Report` as
:func:`flopwise.profile`.

Statically, from shapes: no runtime is needed. Each node is one op event (phase ``forward``)
attributed to the module its name scope implies (:mod:`flopwise.onnx.scopes`); its cost comes
from the ONNX formula table (:mod:`flopwise.onnx.formulas`), which shares the PyTorch formulas'
arithmetic, so conventions mean the same thing for both.

Parameters are the model's stored weights, decided as follows (NB: ONNX has no notion of a
parameter, so this is flopwise's rule):

- every floating-point initializer is a parameter, counted once however many nodes use it
  (directly or through ``Identity`` nodes, as the TorchScript exporter writes deduplicated
  weights); it belongs to the module of the first node that uses it;
- an initializer used only as an op's settings or statistics is a buffer, not a parameter:
  the running mean and variance of ``BatchNormalization`` (as in PyTorch), the scales and zero
  points of quantization ops, ``Resize``/``Upsample`` scales and regions, ``Clip`` bounds and
  ``Pad`` values (see :data:`NON_PARAMETER_INPUTS`);
- integer initializers are buffers (shape tensors, axes, indices), except the integer weights of
  quantized models (the weight input of ``DequantizeLinear``, ``QLinearConv``, ``ConvInteger``,
  ``MatMulInteger``, ``QLinearMatMul``), which are parameters;
- ``Constant`` nodes are literals of the graph (scales, epsilons, shapes), never parameters.

Every parameter counts as trainable except quantized integer weights.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flopwise._version import __version__
from flopwise.capture.events import OpEvent, Phase, Status
from flopwise.conventions import DEFAULT_CONVENTION, Convention, get_convention
from flopwise.errors import UnsupportedOpsError, UsageError
from flopwise.formulas._helpers import is_float
from flopwise.formulas.registry import EntryKind, FormulaRegistry
from flopwise.formulas.spec import Cost, TensorSpec
from flopwise.onnx.formulas import builtin_onnx_registry
from flopwise.onnx.graph import (
    DTYPES,
    ValueTable,
    bind_input_shapes,
    graph_inputs,
    infer_shapes,
    load_model,
    require_onnx,
    spec_nbytes,
)
from flopwise.onnx.info import OnnxInfo
from flopwise.onnx.node import OnnxNode, ShapeUnknown, op_key_of
from flopwise.onnx.scopes import ScopeNames
from flopwise.report import Report, RunInfo
from flopwise.tree import ModuleNode, ModuleTree

if TYPE_CHECKING:
    import onnx

__all__ = ["profile_onnx"]

# integer weights of quantized models: op type -> input positions that hold a weight
QUANTIZED_WEIGHT_INPUTS: dict[str, tuple[int, ...]] = {
    "DequantizeLinear": (0,), "QLinearConv": (3,), "ConvInteger": (1,),
    "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3),
}
# op type -> input positions that hold statistics or settings (buffers), not parameters
NON_PARAMETER_INPUTS: dict[str, tuple[int, ...]] = {
    "BatchNormalization": (3, 4), "Resize": (1, 2, 3), "Upsample": (1,), "Clip": (1, 2),
    "Pad": (1, 2, 3), "Range": (0, 1, 2), "QuantizeLinear": (1, 2), "DequantizeLinear": (1, 2),
    "QLinearConv": (1, 2, 4, 5, 6, 7), "QLinearMatMul": (1, 2, 4, 5, 6, 7),
    "ConvInteger": (2, 3), "MatMulInteger": (2, 3),
}


def profile_onnx(
    model: str | os.PathLike[str] | onnx.ModelProto,
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    *,
    convention: str | Convention = DEFAULT_CONVENTION,
    strict: bool = False,
    registry: FormulaRegistry | None = None,
) -> Report:
    """Count what one run of an ONNX model costs, per node, per name scope and per op type.

    Args:
        model: a path to an ``.onnx`` file or a ``ModelProto`` (never modified).
        input_shapes: concrete shapes for graph inputs with symbolic dimensions
            (``{"x": (8, 3, 224, 224)}``), or values for the symbols themselves
            (``{"batch": (8,)}``); see :func:`parse_input_shapes` for the CLI form.
        convention: how FLOPs are counted (``standard``, ``matmul``, ``macs``, ``exact``).
        strict: raise :class:`~flopwise.UnsupportedOpsError` if any node has no formula.
        registry: ONNX formulas to use (``flopwise.onnx.onnx_registry()`` copies the built-in).

    Raises:
        UsageError: an input shape is unresolved or contradicts the model, or a node's shape
            depends on tensor values; the message names the input or value.
        ModelLoadError: the file is missing or unreadable.

    Example:
        >>> import onnx
        >>> from onnx import TensorProto, helper
        >>> from flopwise.onnx import profile_onnx
        >>> graph = helper.make_graph(
        ...     [helper.make_node("MatMul", ["x", "w"], ["y"], name="/fc/MatMul")], "g",
        ...     [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        ...     [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        ...     [helper.make_tensor("w", TensorProto.FLOAT, [8, 4], [0.0] * 32)])
        >>> report = profile_onnx(helper.make_model(graph), {"x": (2, 8)})
        >>> report.total.macs, report.module("fc").params       # 2·8·4, 8·4
        (64, 32)
    """
    require_onnx()
    chosen = get_convention(convention)
    loaded = load_model(model)
    resolved = bind_input_shapes(loaded.model, input_shapes)
    analysed = infer_shapes(loaded.model)
    inferred, values = analysed.model, analysed.values
    graph = inferred.graph
    scopes = ScopeNames(graph.node, [t.name for t in graph.initializer])
    table = registry or builtin_onnx_registry()
    counter = _Counter(graph, values, scopes, table)
    events = counter.run()
    weights = _Weights(graph, scopes)
    nodes = _module_nodes(graph, values, scopes, weights)
    report = Report(
        tree=ModuleTree(nodes, events),
        events=tuple(events),
        convention=chosen,
        run=RunInfo(
            model=loaded.name, mode="onnx", device="static shapes",
            inputs=tuple(resolved[value.name] for value in graph_inputs(graph)),
            backward=False, optimizer=None, torch_version=_torch_version(),
            flopwise_version=__version__,
        ),
        param_bytes=weights.param_bytes,
        buffer_bytes=weights.buffer_bytes,
        decomposed={},
        formula_errors=counter.formula_errors,
        sections=(_onnx_info(inferred, resolved, counter.unsized_values, analysed.folded),),
    )
    if strict and report.unsupported:
        raise UnsupportedOpsError(report.unsupported)
    return report


# -- counting ----------------------------------------------------------------------------------
def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    onnx = require_onnx()
    attrs: dict[str, Any] = {}
    for attribute in node.attribute:
        if attribute.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
            continue
        value = onnx.helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list):
            value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
        attrs[attribute.name] = value
    return attrs


class _Counter:
    """Turns each node into one :class:`OpEvent`."""

    def __init__(self, graph: onnx.GraphProto, values: ValueTable, scopes: ScopeNames,
                 registry: FormulaRegistry) -> None:
        self.graph = graph
        self.values = values
        self.scopes = scopes
        self.registry = registry
        self.formula_errors: dict[str, str] = {}
        self.unsized_values: set[str] = set()
        self.producers = {out: node for node in graph.node for out in node.output if out}
        self.stored = {t.name for t in graph.initializer} | {
            n.output[0] for n in graph.node if n.op_type == "Constant" and n.output}

    def run(self) -> list[OpEvent]:
        return [self._event(node, module) for node, module in zip(self.graph.node,
                                                                  self.scopes.modules)]

    def _view(self, node: onnx.NodeProto) -> OnnxNode:
        return OnnxNode(
            node.op_type, node.name, node.domain, tuple(node.input), tuple(node.output),
            tuple(self.values.spec(n) for n in node.input),
            tuple(self.values.spec(n) for n in node.output),
            _attributes(node),
        )

    def _event(self, node: onnx.NodeProto, module: str) -> OpEvent:
        view = self._view(node)
        key = op_key_of(node.op_type, node.domain)
        entry = self.registry.lookup(key)
        if entry is None:
            status, cost = Status.UNSUPPORTED, Cost()
        elif entry.kind is EntryKind.ZERO:
            status = Status.ZERO
            cost = Cost() if entry.moves_data else Cost(bytes_read=0, bytes_written=0)
        else:
            counted = self._counted(view, entry.formula, key)
            if counted is None:
                status, cost = Status.UNSUPPORTED, Cost()
            elif key == "Add" and self._is_bias_add(node):
                # NB: MatMul + Add of a stored vector is a linear layer's bias (the torch
                # exporter writes nn.Linear on 3-D inputs so): a bias add, as addmm counts it.
                status, cost = Status.COUNTED, Cost(bias_adds=counted.elementwise)
            else:
                status, cost = Status.COUNTED, counted
        cost = self._with_bytes(view, cost)
        return OpEvent(op=key, module=module, phase=Phase.FORWARD, status=status, cost=cost,
                       dtype=_compute_dtype(view))

    def _counted(self, view: OnnxNode, formula: Any, key: str) -> Cost | None:
        try:
            return formula(view)
        except ShapeUnknown as unknown:
            raise self._shape_error(view, unknown) from None
        except Exception as error:  # a formula that cannot read this node
            self.formula_errors.setdefault(key, f"{type(error).__name__}: {error}")
            return None

    def _shape_error(self, view: OnnxNode, unknown: ShapeUnknown) -> UsageError:
        # every graph input has a concrete shape by now, so what is left open depends on data
        return UsageError(
            f"cannot count node {view.name or view.op_type!r} ({view.key}): the shape of its "
            f"{unknown.role} {unknown.value!r} is unresolved "
            f"({self.values.describe(unknown.value)}) although every input shape is known: it "
            "depends on tensor values (or on an op onnx cannot infer), which --input cannot fix; "
            "profile the PyTorch model with flopwise.profile instead"
        )

    def _is_bias_add(self, node: onnx.NodeProto) -> bool:
        if len(node.input) != 2 or not node.output:
            return False
        out = self.values.spec(node.output[0])
        for product, bias in (node.input, reversed(node.input)):
            producer = self.producers.get(product)
            vector = self.values.spec(bias)
            if (producer is not None and producer.op_type == "MatMul" and bias in self.stored
                    and out is not None and vector is not None and out.ndim >= 1
                    and vector.numel == out.shape[-1] and vector.shape[-1:] == out.shape[-1:]):
                return True
        return False

    def _with_bytes(self, view: OnnxNode, cost: Cost) -> Cost:
        if cost.bytes_read is not None and cost.bytes_written is not None:
            return cost
        read = self._bytes(view.input_names, view.input_specs)
        written = self._bytes(view.output_names, view.output_specs)
        return Cost(cost.macs, cost.dot_outputs, cost.bias_adds, cost.elementwise,
                    read if cost.bytes_read is None else cost.bytes_read,
                    written if cost.bytes_written is None else cost.bytes_written)

    def _bytes(self, names: tuple[str, ...], specs: tuple[TensorSpec | None, ...]) -> int:
        total = 0
        for name, spec in zip(names, specs):
            if not name:
                continue
            if spec is None:
                self.unsized_values.add(name)
                continue
            total += spec_nbytes(spec)
        return total


def _compute_dtype(view: OnnxNode) -> str:
    for spec in (*view.input_specs, *view.output_specs):
        if spec is not None and is_float(spec):
            return spec.dtype
    return "none"


# -- parameters --------------------------------------------------------------------------------
class _Weights:
    """Initializers sorted into parameters and buffers, each owned by one module."""

    def __init__(self, graph: onnx.GraphProto, scopes: ScopeNames) -> None:
        initializers = {t.name: t for t in graph.initializer}
        alias: dict[str, str] = {}  # Identity outputs that stand for an initializer
        for node in graph.node:
            if node.op_type == "Identity" and node.input and (
                    node.input[0] in initializers or node.input[0] in alias):
                alias[node.output[0]] = alias.get(node.input[0], node.input[0])
        self.owner: dict[str, str] = {}
        settings: set[str] = set()      # used in a statistics or settings slot
        weights: set[str] = set()       # used anywhere else
        quantized: set[str] = set()
        for node, module in zip(graph.node, scopes.modules):
            for position, name in enumerate(node.input):
                source = alias.get(name, name)
                if source not in initializers or node.op_type == "Identity":
                    continue
                self.owner.setdefault(source, module)
                if position in NON_PARAMETER_INPUTS.get(node.op_type, ()):
                    settings.add(source)
                else:
                    weights.add(source)
                if position in QUANTIZED_WEIGHT_INPUTS.get(node.op_type, ()):
                    quantized.add(source)
        statistics = settings - weights
        self.params: dict[str, int] = {}
        self.trainable: dict[str, int] = {}
        param_bytes: Counter[str] = Counter()
        buffer_bytes: Counter[str] = Counter()
        for name, tensor in initializers.items():
            dtype, _ = DTYPES.get(tensor.data_type, ("undefined", 0))
            spec = TensorSpec(tuple(int(d) for d in tensor.dims), dtype)
            floating = is_float(spec)
            if name not in statistics and (floating or name in quantized):
                self.params[name] = spec.numel
                self.trainable[name] = spec.numel if floating else 0
                param_bytes[dtype] += spec_nbytes(spec)
            else:
                buffer_bytes[dtype] += spec_nbytes(spec)
        self.param_bytes = dict(param_bytes)
        self.buffer_bytes = dict(buffer_bytes)


# -- the module tree ---------------------------------------------------------------------------
def _ancestors(name: str) -> list[str]:
    """``"a.b.c"`` → ``["a", "a.b", "a.b.c"]``."""
    parts = name.split(".") if name else []
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _module_nodes(graph: onnx.GraphProto, values: ValueTable, scopes: ScopeNames,
                  weights: _Weights) -> list[ModuleNode]:
    order: dict[str, None] = {"": None}
    op_types: dict[str, dict[str, None]] = {}
    for node, module in zip(graph.node, scopes.modules):
        for name in _ancestors(module):
            order.setdefault(name, None)
        op_types.setdefault(module, {})[node.op_type] = None
    parents = {name.rpartition(".")[0] for name in order if name}
    nodes: dict[str, ModuleNode] = {}
    for name in order:
        if name == "":
            kind = "graph"
        elif name in parents:
            kind = "scope"
        else:
            kind = "+".join(op_types.get(name, {})) or "scope"
        nodes[name] = ModuleNode(name, kind, calls=scopes.calls.get(name, 1))
    for initializer, count in weights.params.items():
        node = nodes[weights.owner.get(initializer, "")]
        node.own_params += count
        node.own_trainable += weights.trainable[initializer]
    for name, size in _output_bytes(graph, values, scopes).items():
        nodes[name].output_bytes = size
    return list(nodes.values())


def _output_bytes(graph: onnx.GraphProto, values: ValueTable,
                  scopes: ScopeNames) -> dict[str, int]:
    """Bytes of the values each module produces that are used outside it (or are outputs)."""
    consumers: dict[str, list[str]] = {}
    for node, module in zip(graph.node, scopes.modules):
        for name in node.input:
            consumers.setdefault(name, []).append(module)
    graph_outputs = {value.name for value in graph.output}
    totals: Counter[str] = Counter()
    for node, module in zip(graph.node, scopes.modules):
        for name in node.output:
            spec = values.spec(name)
            if not name or spec is None:
                continue
            users = consumers.get(name, [])
            for scope in ["", *_ancestors(module)]:
                if name in graph_outputs or not all(_within(user, scope) for user in users):
                    totals[scope] += spec_nbytes(spec)
    return dict(totals)


def _within(module: str, scope: str) -> bool:
    """Whether ``module`` is ``scope`` or inside it (everything is inside the root)."""
    return scope == "" or module == scope or module.startswith(scope + ".")


# -- run information ---------------------------------------------------------------------------
def _torch_version() -> str:
    try:
        import torch
    except ImportError:
        return "n/a"
    return str(torch.__version__)


def _onnx_info(model: onnx.ModelProto, inputs: Mapping[str, tuple[int, ...]],
               unsized: set[str], folded: int) -> OnnxInfo:
    onnx = require_onnx()
    return OnnxInfo(
        ir_version=int(model.ir_version),
        opsets={entry.domain or "ai.onnx": int(entry.version) for entry in model.opset_import},
        producer=f"{model.producer_name} {model.producer_version}".strip(),
        inputs={name: tuple(shape) for name, shape in inputs.items()},
        nodes=len(model.graph.node),
        unsized_values=len(unsized),
        shape_values_folded=folded,
        onnx_version=onnx.__version__,
    )
