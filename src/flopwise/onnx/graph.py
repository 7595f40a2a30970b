"""Loading an ONNX model, binding the user's input shapes, and running onnx's shape inference.

The user's ``ModelProto`` is never modified: flopwise works on its own copy (a file is loaded
without its external data, which counting never needs). Symbolic dimensions of the graph inputs
are replaced by the user's shapes — per input (``x=1,3,224,224``) or per symbol
(``batch=8``) — before ``onnx.shape_inference.infer_shapes`` runs with data propagation, so
shape computations (``Shape → Gather → Concat → Reshape``) resolve too.

>>> parse_input_shapes(["x=1,3,224,224", "ids=2x128", "batch=8"])
{'x': (1, 3, 224, 224), 'ids': (2, 128), 'batch': (8,)}
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flopwise.errors import MissingExtraError, ModelLoadError, UsageError
from flopwise.formulas.spec import TensorSpec

if TYPE_CHECKING:
    import onnx

__all__ = [
    "require_onnx",
    "parse_input_shapes",
    "LoadedModel",
    "load_model",
    "bind_input_shapes",
    "infer_shapes",
    "Analysed",
    "ValueTable",
    "DTYPES",
    "spec_nbytes",
]

# ONNX TensorProto element type -> (dtype name as torch spells it, bits per element)
DTYPES: dict[int, tuple[str, int]] = {
    1: ("float32", 32), 2: ("uint8", 8), 3: ("int8", 8), 4: ("uint16", 16), 5: ("int16", 16),
    6: ("int32", 32), 7: ("int64", 64), 8: ("string", 0), 9: ("bool", 8), 10: ("float16", 16),
    11: ("float64", 64), 12: ("uint32", 32), 13: ("uint64", 64), 14: ("complex64", 64),
    15: ("complex128", 128), 16: ("bfloat16", 16), 17: ("float8_e4m3fn", 8),
    18: ("float8_e4m3fnuz", 8), 19: ("float8_e5m2", 8), 20: ("float8_e5m2fnuz", 8),
    21: ("uint4", 4), 22: ("int4", 4), 23: ("float4_e2m1", 4), 24: ("float8_e8m0", 8),
    25: ("uint2", 2), 26: ("int2", 2), 27: ("float6_e2m3", 6), 28: ("float6_e3m2", 6),
}
_BITS: dict[str, int] = {name: bits for name, bits in DTYPES.values()}

_SHAPE_SPLIT = re.compile(r"\s*[,x×]\s*")


def require_onnx() -> Any:
    """The ``onnx`` module, or :class:`MissingExtraError` naming the extra that installs it."""
    try:
        import onnx
    except ImportError as error:
        raise MissingExtraError("onnx", "onnx", "profiling ONNX models") from error
    return onnx


def spec_nbytes(spec: TensorSpec) -> int:
    """Bytes of a tensor, with sub-byte types packed (two int4 per byte).

    >>> spec_nbytes(TensorSpec((3, 5), "int4", 1)), spec_nbytes(TensorSpec((3, 5), "float16", 2))
    (8, 30)
    """
    bits = _BITS.get(spec.dtype, spec.itemsize * 8)
    return math.ceil(spec.numel * bits / 8)


def _spec(elem_type: int, shape: tuple[int, ...]) -> TensorSpec:
    name, bits = DTYPES.get(elem_type, ("undefined", 0))
    return TensorSpec(shape, name, max(1, bits // 8) if bits else 0)


# -- the --input option ----------------------------------------------------------------------
def parse_input_shapes(items: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Parse ``--input NAME=SHAPE`` values into ``{name: shape}``.

    ``SHAPE`` is a list of positive sizes separated by commas or ``x`` (``1,3,224,224``,
    ``1x3x224x224``, ``[1, 3, 224, 224]``). ``NAME`` is a graph input, or a symbolic dimension
    (``batch=8``) bound everywhere it appears.

    >>> parse_input_shapes(["input=[1, 3, 32, 32]"])
    {'input': (1, 3, 32, 32)}
    """
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip().strip("[]()").strip()
        sizes = _SHAPE_SPLIT.split(text) if text else []
        if not sep or not name or not sizes or not all(s.isdigit() and int(s) > 0 for s in sizes):
            raise UsageError(
                f"malformed --input {item!r}: expected NAME=SHAPE with positive sizes, "
                "e.g. --input x=1,3,224,224 (or a symbolic dimension: --input batch=8)"
            )
        if name in shapes:
            raise UsageError(f"--input {name!r} is given twice; give each input once")
        shapes[name] = tuple(int(s) for s in sizes)
    return shapes


# -- loading ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedModel:
    """flopwise's private copy of a model (safe to modify) and the name to report it by."""

    model: onnx.ModelProto
    name: str


def load_model(source: str | os.PathLike[str] | onnx.ModelProto) -> LoadedModel:
    """A private copy of ``source`` (a path or a ``ModelProto``), external data left out.

    Raises:
        ModelLoadError: the file is missing or is not an ONNX model.
    """
    onnx = require_onnx()
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        return LoadedModel(model, source.graph.name or "onnx-model")
    path = Path(source)
    if not path.is_file():
        raise ModelLoadError(f"cannot load ONNX model {str(path)!r}: no such file; check the path")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf's DecodeError and friends
        raise ModelLoadError(
            f"cannot load ONNX model {str(path)!r}: {type(error).__name__}: {error}; "
            "is it an .onnx file?"
        ) from error
    return LoadedModel(model, path.stem)


# -- input shapes ----------------------------------------------------------------------------
def _dims(value_info: onnx.ValueInfoProto) -> list[int | str | None] | None:
    """Declared dims (int, symbol or None), or None when the shape itself is unknown."""
    tensor_type = value_info.type.tensor_type
    if not tensor_type.HasField("shape"):
        return None
    dims: list[int | str | None] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            dims.append(int(dim.dim_value))
        elif dim.HasField("dim_param") and dim.dim_param:
            dims.append(dim.dim_param)
        else:
            dims.append(None)
    return dims


def _show(dims: list[int | str | None] | None) -> str:
    if dims is None:
        return "unknown shape"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def graph_inputs(graph: onnx.GraphProto) -> list[onnx.ValueInfoProto]:
    """The inputs a caller feeds (initializers listed as inputs, IR < 4 style, excluded)."""
    stored = {tensor.name for tensor in graph.initializer}
    return [value for value in graph.input if value.name not in stored]


def bind_input_shapes(
    model: onnx.ModelProto, input_shapes: Mapping[str, tuple[int, ...]] | None
) -> dict[str, tuple[int, ...]]:
    """Give every graph input of ``model`` (flopwise's copy) a concrete shape; return them.

    Raises:
        UsageError: an unknown name, a shape that contradicts the model, or a dimension left
            symbolic (the message names it and the ``--input`` that fixes it).
    """
    given = dict(input_shapes or {})
    inputs = graph_inputs(model.graph)
    names = {value.name for value in inputs}
    declared = {value.name: _dims(value) for value in inputs}
    symbols = {d for dims in declared.values() if dims for d in dims if isinstance(d, str)}
    bound: dict[str, int] = {}
    for key, shape in given.items():
        if key in names:
            continue
        if key in symbols and len(shape) == 1:
            bound[key] = shape[0]
            continue
        known = ", ".join(f"{n}{_show(declared[n])}" for n in sorted(names)) or "none"
        raise UsageError(
            f"--input {key!r} names no graph input or symbolic dimension of this model; "
            f"its inputs are: {known}"
        )
    resolved: dict[str, tuple[int, ...]] = {}
    for value in inputs:
        if value.type.WhichOneof("value") != "tensor_type":
            raise UsageError(
                f"graph input {value.name!r} is not a tensor ({value.type.WhichOneof('value')}); "
                "flopwise counts models whose inputs are tensors"
            )
        dims = declared[value.name]
        if value.name in given:
            shape = given[value.name]
            _check_given(value.name, dims, shape)
        else:
            shape = _from_declared(value.name, dims, bound)
        resolved[value.name] = shape
        _set_shape(value, shape)
    return resolved


def _check_given(name: str, dims: list[int | str | None] | None, shape: tuple[int, ...]) -> None:
    if dims is None:
        return
    if len(dims) != len(shape):
        raise UsageError(
            f"--input {name}: the model declares rank {len(dims)} {_show(dims)}, "
            f"got {len(shape)} sizes {list(shape)}; give one size per dimension"
        )
    for axis, (want, got) in enumerate(zip(dims, shape)):
        if isinstance(want, int) and want != got:
            raise UsageError(
                f"--input {name}: dimension {axis} is fixed to {want} by the model "
                f"{_show(dims)}, got {got}; give a shape that matches the model"
            )


def _from_declared(name: str, dims: list[int | str | None] | None,
                   bound: Mapping[str, int]) -> tuple[int, ...]:
    example = "x".join("N" if not isinstance(d, int) else str(d) for d in dims or [])
    if dims is None:
        raise UsageError(
            f"graph input {name!r} has no declared shape; give it with --input {name}=SHAPE "
            f"(input_shapes={{{name!r}: (...)}})"
        )
    shape = []
    for axis, dim in enumerate(dims):
        if isinstance(dim, int):
            shape.append(dim)
        elif isinstance(dim, str) and dim in bound:
            shape.append(bound[dim])
        else:
            what = f"symbolic dimension {dim!r}" if dim else "an unnamed dynamic dimension"
            symbol_fix = f" or bind the symbol with --input {dim}=N" if dim else ""
            raise UsageError(
                f"cannot resolve the shape of graph input {name!r}: axis {axis} is {what} "
                f"(declared {_show(dims)}); give the shape with --input {name}={example}"
                f"{symbol_fix} (input_shapes={{{name!r}: (...)}})"
            )
    return tuple(shape)


def _set_shape(value: onnx.ValueInfoProto, shape: tuple[int, ...]) -> None:
    tensor_shape = value.type.tensor_type.shape
    tensor_shape.ClearField("dim")
    for size in shape:
        tensor_shape.dim.add().dim_value = size


# -- shape inference -------------------------------------------------------------------------
# Weights with more elements than this lose their data in flopwise's copy (shapes are all
# inference needs); smaller ones keep it, since shape computations may read them (Resize scales).
_KEEP_DATA_NUMEL = 4096
# Shape computations are evaluated only on tensors up to this size.
_FOLD_NUMEL = 4096
# Pure, deterministic ops that shape computations are made of (evaluated when their inputs are
# known constants, so that shape inference sees the shapes they compute).
FOLDABLE: frozenset[str] = frozenset({
    "Shape", "Size", "Gather", "GatherElements", "Unsqueeze", "Squeeze", "Concat", "Slice",
    "Cast", "CastLike", "Add", "Sub", "Mul", "Div", "Mod", "Neg", "Abs", "Floor", "Ceil", "Sqrt",
    "Pow", "Reshape", "Flatten", "Range", "Equal", "Less", "Greater", "LessOrEqual",
    "GreaterOrEqual", "Not", "And", "Or", "Where", "Min", "Max", "ReduceProd", "ReduceSum",
    "ReduceMax", "ReduceMin", "ConstantOfShape", "Expand", "Identity", "Transpose", "Tile",
    "Split", "Sign", "Round", "Clip", "ScatterND", "NonZero", "Trilu", "Constant",
})


def _strip_weight_data(model: onnx.ModelProto) -> None:
    """Drop the data of large initializers in flopwise's copy (only their shapes are read)."""
    for tensor in model.graph.initializer:
        if math.prod(tensor.dims) > _KEEP_DATA_NUMEL:
            for name in ("raw_data", "float_data", "double_data", "int32_data", "int64_data",
                         "uint64_data", "string_data", "external_data"):
                tensor.ClearField(name)
            tensor.data_location = 0


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    onnx = require_onnx()
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False,
                                                 data_prop=True)
    except Exception as error:  # onnx raises InferenceError, ValidationError, RuntimeError...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(
            f"ONNX shape inference failed: {first}; check that --input shapes match the model"
        ) from error


@dataclass(frozen=True)
class Analysed:
    """The model to count (original nodes, after inlining) and every value's inferred type."""

    model: onnx.ModelProto
    values: ValueTable
    folded: int


def infer_shapes(model: onnx.ModelProto) -> Analysed:
    """Inline local functions, run onnx's shape inference, and where shapes stay open, evaluate
    the shape computations (``Shape``, ``Gather``, ``Concat``… on known values) and infer again.

    The folded values only inform inference: the nodes counted are the model's own.
    """
    if len(model.functions):
        from onnx import inliner

        model = inliner.inline_local_functions(model)
    _strip_weight_data(model)
    model.graph.ClearField("value_info")
    inferred = _infer(model)
    values = ValueTable(inferred.graph)
    known: dict[str, Any] = {}
    folded = 0
    for _round in range(8):
        if values.complete(inferred.graph):
            break
        found = _fold(inferred, values, known)
        if not found:
            break
        folded += found
        values = ValueTable(_infer(_with_constants(inferred, known)).graph)
    return Analysed(inferred, values, folded)


def _fold(model: onnx.ModelProto, values: ValueTable, known: dict[str, Any]) -> int:
    """Evaluate the foldable nodes whose inputs are known; add their outputs to ``known``."""
    onnx = require_onnx()
    import numpy as np
    from onnx import numpy_helper

    if not known:
        for tensor in model.graph.initializer:
            if math.prod(tensor.dims) <= _KEEP_DATA_NUMEL:
                try:
                    known[tensor.name] = numpy_helper.to_array(tensor)
                except Exception:  # NB: external or malformed data: not foldable
                    continue
    before = len(known)
    for node in model.graph.node:
        if node.domain not in ("", "ai.onnx") or all(o in known for o in node.output if o):
            continue
        source = values.spec(node.input[0]) if node.op_type == "Shape" else None
        if source is not None:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            window = source.shape[attrs.get("start", 0):attrs.get("end")]
            known[node.output[0]] = np.array(window, dtype=np.int64)
            continue
        if node.op_type not in FOLDABLE or not all(i in known for i in node.input if i):
            continue
        if any(getattr(known[i], "size", 1) > _FOLD_NUMEL for i in node.input if i):
            continue
        outputs = _evaluate(model, node, known)
        if outputs is None:
            continue
        for name, value in zip(node.output, outputs):
            if name and getattr(value, "size", 0) <= _FOLD_NUMEL:
                known[name] = value
    return len(known) - before


def _evaluate(model: onnx.ModelProto, node: onnx.NodeProto, known: dict[str, Any]) -> list | None:
    onnx = require_onnx()
    from onnx.reference import ReferenceEvaluator

    helper = onnx.helper
    graph = helper.make_graph(
        [node], "fold", [helper.make_empty_tensor_value_info(i) for i in node.input if i],
        [helper.make_empty_tensor_value_info(o) for o in node.output if o])
    single = helper.make_model(graph, opset_imports=list(model.opset_import),
                               ir_version=model.ir_version)
    try:
        results = ReferenceEvaluator(single).run(None, {i: known[i] for i in node.input if i})
    except Exception:  # NB: an op the reference evaluator cannot run here stays unfolded
        return None
    outputs = iter(results)
    return [next(outputs) if name else None for name in node.output]


def _with_constants(model: onnx.ModelProto, known: dict[str, Any]) -> onnx.ModelProto:
    """A copy where every node whose outputs are all known is a Constant node."""
    onnx = require_onnx()
    from onnx import numpy_helper

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    copy.graph.ClearField("value_info")
    nodes = []
    for node in copy.graph.node:
        outputs = [o for o in node.output if o]
        if node.op_type != "Constant" and outputs and all(o in known for o in outputs):
            for name in outputs:
                value = numpy_helper.from_array(_as_array(known[name]), name)
                nodes.append(onnx.helper.make_node("Constant", [], [name], value=value))
        else:
            nodes.append(node)
    copy.graph.ClearField("node")
    copy.graph.node.extend(nodes)
    return copy


def _as_array(value: Any) -> Any:
    import numpy as np

    return np.asarray(value)


class ValueTable:
    """Every value's element type and dims after inference: graph inputs and outputs, inferred
    value infos, initializers and Constant nodes.

    :meth:`spec` gives a :class:`TensorSpec` when every dimension is known, else ``None``.
    """

    def __init__(self, graph: onnx.GraphProto) -> None:
        self._types: dict[str, int] = {}
        self._dims: dict[str, list[int | str | None] | None] = {}
        for value in [*graph.input, *graph.value_info, *graph.output]:
            if value.type.WhichOneof("value") != "tensor_type":
                continue
            self._types[value.name] = value.type.tensor_type.elem_type
            dims = _dims(value)
            if dims is not None or value.name not in self._dims:
                self._dims[value.name] = dims
        for tensor in graph.initializer:
            self._types[tensor.name] = tensor.data_type
            self._dims[tensor.name] = [int(d) for d in tensor.dims]
        for node in graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.output:
                tensor = _constant_tensor(node)
                if tensor is not None:
                    self._types[node.output[0]] = tensor.data_type
                    self._dims[node.output[0]] = [int(d) for d in tensor.dims]

    def complete(self, graph: onnx.GraphProto) -> bool:
        """Whether every value the nodes of ``graph`` produce has a fully known shape."""
        return all(self.spec(name) is not None for node in graph.node for name in node.output
                   if name)

    def spec(self, name: str) -> TensorSpec | None:
        dims = self._dims.get(name)
        if not name or dims is None or not all(isinstance(d, int) and d >= 0 for d in dims):
            return None
        return _spec(self._types.get(name, 0), tuple(int(d) for d in dims))  # type: ignore[arg-type]

    def describe(self, name: str) -> str:
        """The value's dims as text, ``?`` for unknown ones (for error messages)."""
        return _show(self._dims.get(name))

    def symbols(self, name: str) -> list[str]:
        dims = self._dims.get(name) or []
        return [d for d in dims if isinstance(d, str)]

    def dtype(self, name: str) -> str:
        return DTYPES.get(self._types.get(name, 0), ("undefined", 0))[0]


def _constant_tensor(node: onnx.NodeProto) -> onnx.TensorProto | None:
    onnx = require_onnx()
    for attribute in node.attribute:
        if attribute.name == "value" and attribute.type == onnx.AttributeProto.TENSOR:
            return attribute.t
    return None
