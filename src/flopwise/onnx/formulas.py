"""Per-node cost formulas for ONNX, keyed by op type (``Conv``; ``com.microsoft.Attention``).

Every formula reuses the arithmetic and per-element costs of the PyTorch formulas
(:mod:`flopwise.formulas`), so that a convention means the same thing for both: a ``Conv`` costs
what ``aten.convolution`` costs, a ``Relu`` what ``aten.relu`` costs, and so on. Formulas are
called as ``formula(node)`` with an :class:`~flopwise.onnx.node.OnnxNode` and return a
:class:`~flopwise.formulas.spec.Cost`; ``bytes_read``/``bytes_written`` left ``None`` mean "every
input read once, every output written once".

>>> from flopwise.onnx.formulas import onnx_registry
>>> registry = onnx_registry()          # an independent copy: safe to extend per run
>>> registry.lookup("Conv").family, registry.lookup("Reshape").kind.value
('convolution', 'zero')
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from flopwise.formulas import interpolate, norm, pointwise, reduction
from flopwise.formulas._helpers import is_float, prod
from flopwise.formulas.attention import attention_cost
from flopwise.formulas.conv import conv_macs
from flopwise.formulas.matmul import matmul_cost
from flopwise.formulas.pooling import adaptive_window_total
from flopwise.formulas.registry import FormulaRegistry
from flopwise.formulas.rnn import rnn_cost
from flopwise.formulas.spec import Cost, TensorSpec
from flopwise.onnx.graph import spec_nbytes
from flopwise.onnx.node import OnnxNode

__all__ = [
    "onnx_registry",
    "builtin_onnx_registry",
    "einsum_cost",
    "matmul_shapes_cost",
    "resize_per_output",
    "POINTWISE",
    "ONNX_ONLY_POINTWISE",
    "REDUCTIONS",
]

Formula = Callable[[OnnxNode], Cost]

# ONNX op -> the torch op whose per-element cost it shares (flopwise.formulas.pointwise)
POINTWISE: dict[str, str] = {
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Neg": "neg", "Abs": "abs",
    "Reciprocal": "reciprocal", "Pow": "pow", "Sqrt": "sqrt", "Exp": "exp", "Log": "log",
    "Sin": "sin", "Cos": "cos", "Tan": "tan", "Asin": "asin", "Acos": "acos", "Atan": "atan",
    "Sinh": "sinh", "Cosh": "cosh", "Erf": "erf", "Floor": "floor", "Ceil": "ceil",
    "Round": "round", "Sign": "sign", "Mod": "fmod", "Clip": "clamp", "Where": "where",
    "Equal": "eq", "Less": "lt", "LessOrEqual": "le", "Greater": "gt", "GreaterOrEqual": "ge",
    "IsNaN": "isnan", "IsInf": "isinf",
    "Relu": "relu", "LeakyRelu": "leaky_relu", "Elu": "elu", "Celu": "celu", "Selu": "selu",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Gelu": "gelu",
    "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish", "Mish": "mish",
    "PRelu": "_prelu_kernel", "ThresholdedRelu": "threshold", "Swish": "silu",
}
# Elementwise ops torch has no single op for, with their arithmetic per output element.
ONNX_ONLY_POINTWISE: dict[str, int] = {
    "Softsign": 3,           # x / (1 + |x|): abs, add, divide
    "Asinh": 1, "Acosh": 1, "Atanh": 1,   # transcendental: 1, as in flopwise.formulas.pointwise
    "Shrink": 2,             # compare, add the bias
    "DequantizeLinear": 2,   # (x − zero point)·scale
}
# ONNX reduction -> torch reduction whose per-input/per-output costs it shares
REDUCTIONS: dict[str, str] = {
    "ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "amax", "ReduceMin": "amin",
    "ReduceProd": "prod", "ReduceL2": "linalg_vector_norm", "ReduceLogSumExp": "logsumexp",
    "ArgMax": "argmax", "ArgMin": "argmin", "CumSum": "cumsum",
}
# ONNX-only reductions: (FLOPs per input element, per output element)
ONNX_ONLY_REDUCTIONS: dict[str, tuple[int, int]] = {
    "ReduceL1": (2, 0),         # |x|, add
    "ReduceSumSquare": (2, 0),  # square, add
    "ReduceLogSum": (1, 1),     # add; log per output
}
# Declared cost-free, moving no data: metadata, aliases, and inference-time no-ops.
NO_DATA: tuple[str, ...] = (
    "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Shape", "Size", "Constant",
    "Dropout",  # NB: inference semantics (an identity); training-mode dropout is not modelled
)
# Declared cost-free, moving data (inputs read, outputs written).
DATA_MOVEMENT: tuple[str, ...] = (
    "Transpose", "Concat", "Split", "Tile", "Expand", "Pad", "Cast", "CastLike",
    "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth", "OneHot", "NonZero", "Trilu",
    "EyeLike", "ReverseSequence", "Unique", "Not", "And", "Or", "Xor", "BitShift",
    "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot", "RandomNormal", "RandomNormalLike",
    "RandomUniform", "RandomUniformLike", "Bernoulli",
)
_GATHERS: tuple[str, ...] = ("Gather", "GatherElements", "GatherND", "Slice", "Compress")


# -- arithmetic helpers (ints in, Cost out) ----------------------------------------------------
def _broadcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """NumPy broadcasting of two shapes.

    >>> _broadcast((2, 1, 4), (3, 1))
    (2, 3, 4)
    """
    rank = max(len(a), len(b))
    padded_a = (1,) * (rank - len(a)) + tuple(a)
    padded_b = (1,) * (rank - len(b)) + tuple(b)
    out = []
    for x, y in zip(padded_a, padded_b):
        if x != y and 1 not in (x, y):
            raise ValueError(f"shapes {tuple(a)} and {tuple(b)} do not broadcast")
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


def matmul_shapes_cost(a: Sequence[int], b: Sequence[int]) -> Cost:
    """``numpy.matmul`` of shapes ``a`` and ``b`` (1-D operands promoted, batch dims broadcast).

    >>> matmul_shapes_cost((4, 1, 5, 6), (3, 6, 7)).macs   # batch 4·3, 5·6·7 each
    2520
    >>> matmul_shapes_cost((6,), (6, 7)).macs
    42
    """
    left = (1, *a) if len(a) == 1 else tuple(a)
    right = (*b, 1) if len(b) == 1 else tuple(b)
    m, k = left[-2], left[-1]
    n = right[-1]
    batch = prod(_broadcast(left[:-2], right[:-2]))
    return matmul_cost(batch, m, k, n)


def _einsum_terms(equation: str, shapes: Sequence[Sequence[int]]) -> tuple[
        list[list[str]], list[str], dict[str, int]]:
    """Operand index lists, output index list and index sizes (``...`` as numbered indices)."""
    text = equation.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    operands = lhs.split(",")
    if len(operands) != len(shapes):
        raise ValueError(f"einsum {equation!r} names {len(operands)} operands, got {len(shapes)}")
    sizes: dict[str, int] = {}
    terms: list[list[str]] = []
    ellipsis_rank = 0
    for spec, shape in zip(operands, shapes):
        letters = spec.replace("...", "")
        rank = len(shape) - len(letters) if "..." in spec else 0
        ellipsis_rank = max(ellipsis_rank, rank)
        before, dots, after = spec.partition("...")
        names = list(before) + ([f"…{i}" for i in range(-rank, 0)] if dots else []) + list(after)
        if len(names) != len(shape):
            raise ValueError(f"einsum operand {spec!r} does not match shape {tuple(shape)}")
        for name, size in zip(names, shape):
            seen = sizes.get(name)
            sizes[name] = int(size) if seen is None or seen == 1 else seen  # 1 broadcasts
        terms.append(names)
    ellipsis = [f"…{i}" for i in range(-ellipsis_rank, 0)]
    if arrow:
        before, dots, after = rhs.partition("...")
        output = list(before) + (ellipsis if dots else []) + list(after)
    else:
        counts: dict[str, int] = {}
        for names in terms:
            for name in names:
                counts[name] = counts.get(name, 0) + 1
        output = ellipsis + sorted(n for n, c in counts.items() if c == 1 and not n.startswith("…"))
    return terms, output, sizes


def einsum_cost(equation: str, shapes: Sequence[Sequence[int]]) -> Cost:
    """MACs of ``einsum(equation, *operands)`` contracted pairwise, left to right.

    Two operands: the product of every index size (each combination of indices is one multiply
    accumulated into its output). More operands are contracted left to right, as
    ``torch.einsum`` does without opt_einsum; each step costs the product of the sizes of the
    indices its two operands carry. One operand: a sum over the dropped indices (one add per
    input element), or nothing for a pure permutation.

    >>> einsum_cost("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]).macs   # 2·3·4·5
    120
    >>> einsum_cost("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]).macs  # 2·3·4 + 2·4·5
    64
    """
    terms, output, sizes = _einsum_terms(equation, shapes)
    if len(terms) == 1:
        dropped = set(terms[0]) - set(output)
        return Cost(elementwise=prod(sizes[n] for n in terms[0]) if dropped else 0)
    current = terms[0]
    macs = dots = 0
    for step, names in enumerate(terms[1:], start=1):
        union = list(dict.fromkeys(current + names))
        needed = set(output).union(*(set(t) for t in terms[step + 1:]))
        current = [n for n in union if n in needed]
        macs += prod(sizes[n] for n in union)
        dots += prod(sizes[n] for n in current)
    return Cost(macs=macs, dot_outputs=dots)


def resize_per_output(mode: str, resized_axes: int) -> int:
    """FLOPs per output element of ``Resize``, as :data:`flopwise.formulas.interpolate.PER_OUTPUT`.

    Linear blends 2ʳ taps (2ʳ multiplies + 2ʳ − 1 adds), cubic 4ʳ, nearest copies.

    >>> [resize_per_output(mode, 2) for mode in ("linear", "cubic", "nearest")]
    [7, 31, 0]
    """
    table = interpolate.PER_OUTPUT
    if mode == "nearest":
        return 0
    if mode == "linear":
        named = {1: "upsample_linear1d", 2: "upsample_bilinear2d", 3: "upsample_trilinear3d"}
        return table[named[resized_axes]] if resized_axes in named else 2 ** (resized_axes + 1) - 1
    if mode == "cubic":
        return table["upsample_bicubic2d"] if resized_axes == 2 else 2 * 4 ** resized_axes - 1
    raise ValueError(f"unknown Resize mode {mode!r}")


# -- formulas ----------------------------------------------------------------------------------
def _conv(x: TensorSpec, w: TensorSpec, y: TensorSpec, transposed: bool, bias: bool) -> Cost:
    macs = conv_macs(x.shape, w.shape, y.shape, transposed, 1)
    return Cost(macs=macs, dot_outputs=y.numel, bias_adds=y.numel if bias else 0)


def _per_element(cost: int) -> Formula:
    def formula(node: OnnxNode) -> Cost:
        out = node.output(0)
        return Cost(elementwise=cost * out.numel) if is_float(out) else Cost()

    formula.__doc__ = f"{cost} FLOP(s) per output element (floating-point outputs only)."
    return formula


def _reduction(per_input: int, per_output: int) -> Formula:
    def formula(node: OnnxNode) -> Cost:
        x = node.input(0)
        if not is_float(x):
            return Cost()
        return Cost(elementwise=per_input * x.numel + per_output * node.output(0).numel)

    formula.__doc__ = f"{per_input} FLOP(s) per input element + {per_output} per output."
    return formula


def _gather(node: OnnxNode) -> Cost:
    """Zero FLOPs: reads the indices and the gathered elements, writes the output."""
    out = node.output(0)
    indices = sum(spec_nbytes(node.input(i)) for i in range(1, len(node.input_names))
                  if node.has_input(i))
    return Cost(bytes_read=indices + spec_nbytes(out), bytes_written=spec_nbytes(out))


def register(registry: FormulaRegistry) -> None:
    """Register every built-in ONNX formula on ``registry``."""
    _register_contractions(registry)
    _register_attention(registry)
    _register_recurrent(registry)
    _register_normalisation(registry)
    _register_pooling(registry)
    _register_elementwise(registry)
    _register_data(registry)


def _register_contractions(registry: FormulaRegistry) -> None:
    @registry.register("Conv", family="convolution")
    def conv(node: OnnxNode) -> Cost:
        """N·Co·∏out·(Ci/g)·∏K MACs, one bias add per output (as aten.convolution)."""
        return _conv(node.input(0), node.input(1), node.output(0), False, node.has_input(2))

    @registry.register("ConvTranspose", family="convolution")
    def conv_transpose(node: OnnxNode) -> Cost:
        """N·Ci·∏in·(Co/g)·∏K MACs (each input position scattered), bias per output."""
        return _conv(node.input(0), node.input(1), node.output(0), True, node.has_input(2))

    @registry.register("ConvInteger", family="convolution")
    def conv_integer(node: OnnxNode) -> Cost:
        """Integer convolution: MACs as Conv, no bias."""
        return _conv(node.input(0), node.input(1), node.output(0), False, False)

    @registry.register("QLinearConv", family="convolution")
    def qlinear_conv(node: OnnxNode) -> Cost:
        """Quantized convolution (x, w at inputs 0 and 3, bias 8): MACs as Conv."""
        return _conv(node.input(0), node.input(3), node.output(0), False, node.has_input(8))

    @registry.register("Gemm", family="matmul")
    def gemm(node: OnnxNode) -> Cost:
        """α·A′B′ + β·C: M·N·K MACs, + M·N bias adds when C is given and β ≠ 0."""
        a, b = node.input(0), node.input(1)
        m, k = reversed(a.shape) if node.attr("transA", 0) else a.shape
        n = b.shape[0] if node.attr("transB", 0) else b.shape[1]
        bias = node.has_input(2) and float(node.attr("beta", 1.0)) != 0.0
        return matmul_cost(1, m, k, n, bias=bias)

    @registry.register("MatMul", "MatMulInteger", family="matmul")
    def matmul(node: OnnxNode) -> Cost:
        """numpy.matmul: batch·M·N·K MACs, batch dims broadcast, 1-D operands promoted."""
        return matmul_shapes_cost(node.input(0).shape, node.input(1).shape)

    @registry.register("QLinearMatMul", family="matmul")
    def qlinear_matmul(node: OnnxNode) -> Cost:
        """Quantized matmul (a, b at inputs 0 and 3): as MatMul."""
        return matmul_shapes_cost(node.input(0).shape, node.input(3).shape)

    @registry.register("Einsum", family="matmul",
                       note="3+ operands contracted left to right, as torch.einsum")
    def einsum(node: OnnxNode) -> Cost:
        """Two operands: the product of all index sizes; more: pairwise, left to right."""
        return einsum_cost(str(node.attr("equation")), [s.shape for s in node.inputs()])


def _register_attention(registry: FormulaRegistry) -> None:
    @registry.register("Attention", family="attention",
                       note="ONNX 23+; causal counted as the full square, as the core counts sdpa")
    def attention(node: OnnxNode) -> Cost:
        """QKᵀ B·Hq·Lq·Lk·d + AV B·Hq·Lq·Lk·dv MACs (Lk includes the past); softmax per score."""
        q, k, v = node.input(0), node.input(1), node.input(2)
        if q.ndim == 4:
            batch, heads, lq, d = q.shape
            lk, dv = k.shape[2], v.shape[3]
        else:
            heads, kv_heads = int(node.attr("q_num_heads")), int(node.attr("kv_num_heads"))
            batch, lq, hidden = q.shape
            d, lk, dv = hidden // heads, k.shape[1], v.shape[2] // kv_heads
        if node.has_input(4):
            lk += node.input(4).shape[2]
        return attention_cost(batch * heads, lq, lk, d, dv, masked=node.has_input(3))

    @registry.register("com.microsoft.MultiHeadAttention", family="attention",
                       note="onnxruntime contrib op; projections are separate MatMul nodes")
    def multi_head_attention(node: OnnxNode) -> Cost:
        """Attention over N heads (Lk includes the past); + 1 FLOP per Q/K/V element with bias."""
        heads = int(node.attr("num_heads"))
        q = node.input(0)
        if q.ndim == 5:  # packed QKV [B, L, N, 3, H]
            batch, lq, _, _, d = q.shape
            lk, dv = lq, d
        else:
            batch, lq, hidden = q.shape
            d = hidden // heads
            k = node.input(1)
            lk = {3: k.shape[1], 4: k.shape[2], 5: k.shape[1]}[k.ndim]
            dv = d
            if node.has_input(2):
                v = node.input(2)
                dv = v.shape[2] // heads if v.ndim == 3 else v.shape[3]
        if node.has_input(6):
            lk += node.input(6).shape[2]
        masked = node.has_input(4) or node.has_input(5)
        cost = attention_cost(batch * heads, lq, lk, d, dv, masked=masked)
        if node.has_input(3):
            biased = sum(node.input(i).numel for i in range(3)
                         if node.has_input(i) and node.input(i).ndim in (3, 5))
            cost = cost + Cost(elementwise=biased)
        return cost

    @registry.register("com.microsoft.Attention", family="attention",
                       note="onnxruntime contrib op: fused QKV projection + attention")
    def contrib_attention(node: OnnxNode) -> Cost:
        """QKV projection B·S·Din·(Dq+Dk+Dv) MACs (+ bias) + attention over N heads."""
        heads = int(node.attr("num_heads"))
        x, weights = node.input(0), node.input(1)
        batch, seq, d_in = x.shape
        width = weights.shape[1]
        sizes = list(node.attr("qkv_hidden_sizes") or []) or [width // 3] * 3
        projection = matmul_cost(1, batch * seq, d_in, width, bias=node.has_input(2))
        lk = seq + (node.input(4).shape[3] if node.has_input(4) else 0)
        masked = node.has_input(3) or node.has_input(5)
        return projection + attention_cost(batch * heads, seq, lk, sizes[0] // heads,
                                           sizes[2] // heads, masked=masked)


_RNN_MODES: dict[str, int] = {"LSTM": 2, "GRU": 3}  # flopwise.formulas.rnn mode numbers


def _register_recurrent(registry: FormulaRegistry) -> None:
    @registry.register("LSTM", "GRU", "RNN", family="recurrent")
    def recurrent(node: OnnxNode) -> Cost:
        """G·H·(E + H) MACs per step and direction (LSTM G=4, GRU 3, RNN 1) + gate arithmetic."""
        x, w = node.input(0), node.input(1)
        if node.op_type == "RNN":
            activations = [str(a).lower() for a in node.attr("activations", ["Tanh"])]
            mode = 0 if activations and activations[0] == "relu" else 1
        else:
            mode = _RNN_MODES[node.op_type]
        steps, batch = (x.shape[1], x.shape[0]) if node.attr("layout", 0) else x.shape[:2]
        gates = {0: 1, 1: 1, 2: 4, 3: 3}[mode]
        hidden = int(node.attr("hidden_size", w.shape[1] // gates))
        bidirectional = str(node.attr("direction", "forward")) == "bidirectional"
        return rnn_cost(mode, steps, batch, x.shape[2], hidden, bidirectional=bidirectional,
                        bias=node.has_input(3))


def _register_normalisation(registry: FormulaRegistry) -> None:
    family = "normalisation"

    @registry.register("BatchNormalization", family=family)
    def batch_norm(node: OnnxNode) -> Cost:
        """Running statistics: normalise 2 + affine 2 per element (+ statistics 4 in training)."""
        training = bool(node.attr("training_mode", 0))
        return norm.norm_cost(node.input(0).numel, stats=training, affine=True)

    @registry.register("LayerNormalization", "GroupNormalization", "InstanceNormalization",
                       family=family)
    def stats_norm(node: OnnxNode) -> Cost:
        """Statistics 4 + normalise 2 + affine 2 FLOPs per element."""
        return norm.norm_cost(node.input(0).numel, stats=True, affine=True)

    @registry.register("MeanVarianceNormalization", family=family)
    def mean_variance_norm(node: OnnxNode) -> Cost:
        """Statistics 4 + normalise 2 FLOPs per element (no affine)."""
        return norm.norm_cost(node.input(0).numel, stats=True, affine=False)

    @registry.register("RMSNormalization", family=family)
    def rms_norm(node: OnnxNode) -> Cost:
        """Square and sum 2 + scale 1 + weight 1 FLOPs per element (as aten._fused_rms_norm)."""
        return Cost(elementwise=(norm.RMS_STATS_PER_ELEMENT + 2) * node.input(0).numel)

    @registry.register("LpNormalization", family=family)
    def lp_norm(node: OnnxNode) -> Cost:
        """|x|^p and sum 2 + divide 1 FLOPs per element."""
        return Cost(elementwise=3 * node.input(0).numel)


def _register_pooling(registry: FormulaRegistry) -> None:
    family = "pooling"

    @registry.register("MaxPool", family=family)
    def max_pool(node: OnnxNode) -> Cost:
        """∏K comparisons per output (as aten.max_pool2d)."""
        return Cost(elementwise=node.output(0).numel * prod(node.attr("kernel_shape")))

    @registry.register("AveragePool", family=family)
    def average_pool(node: OnnxNode) -> Cost:
        """∏K adds + 1 divide per output (as aten.avg_pool2d)."""
        return Cost(elementwise=node.output(0).numel * (prod(node.attr("kernel_shape")) + 1))

    def _global_terms(node: OnnxNode) -> tuple[int, int]:
        x, out = node.input(0), node.output(0)
        terms = prod(x.shape[:2]) * prod(adaptive_window_total(s, 1) for s in x.shape[2:])
        return terms, out.numel

    @registry.register("GlobalAveragePool", family=family)
    def global_average_pool(node: OnnxNode) -> Cost:
        """One add per input element + 1 divide per output (as adaptive_avg_pool to 1)."""
        terms, outputs = _global_terms(node)
        return Cost(elementwise=terms + outputs)

    @registry.register("GlobalMaxPool", family=family)
    def global_max_pool(node: OnnxNode) -> Cost:
        """One comparison per input element (as adaptive_max_pool to 1)."""
        terms, _ = _global_terms(node)
        return Cost(elementwise=terms)

    @registry.register("Resize", "Upsample", family="interpolation",
                       note="antialias counted as the plain mode")
    def resize(node: OnnxNode) -> Cost:
        """nearest 0, linear 2^(r+1)−1, cubic 2·4^r−1 FLOPs per output (r resized axes)."""
        x, out = node.input(0), node.output(0)
        mode = str(node.attr("mode", "nearest"))
        changed = [a for a, (i, o) in enumerate(zip(x.shape, out.shape)) if i != o]
        spatial = x.ndim >= 3 and not any(a < 2 for a in changed)
        axes = x.ndim - 2 if spatial else max(1, len(changed))
        return Cost(elementwise=resize_per_output(mode, axes) * out.numel)


def _register_elementwise(registry: FormulaRegistry) -> None:
    for op, torch_name in POINTWISE.items():
        registry.register(op, family="pointwise")(_per_element(pointwise.PER_ELEMENT[torch_name]))
    for op, cost in ONNX_ONLY_POINTWISE.items():
        registry.register(op, family="pointwise")(_per_element(cost))

    @registry.register("Sum", "Max", "Min", family="pointwise")
    def variadic(node: OnnxNode) -> Cost:
        """n − 1 adds (or comparisons) per output element for n inputs."""
        out = node.output(0)
        inputs = sum(1 for i in range(len(node.input_names)) if node.has_input(i))
        return Cost(elementwise=max(inputs - 1, 0) * out.numel) if is_float(out) else Cost()

    @registry.register("Mean", family="pointwise")
    def mean(node: OnnxNode) -> Cost:
        """n − 1 adds + 1 divide per output element for n inputs."""
        out = node.output(0)
        inputs = sum(1 for i in range(len(node.input_names)) if node.has_input(i))
        return Cost(elementwise=inputs * out.numel) if is_float(out) else Cost()

    @registry.register("QuantizeLinear", family="pointwise")
    def quantize(node: OnnxNode) -> Cost:
        """Divide by the scale, round, add the zero point, saturate: 4 per input element."""
        x = node.input(0)
        return Cost(elementwise=4 * x.numel) if is_float(x) else Cost()

    @registry.register("Softmax", "LogSoftmax", family="softmax")
    def softmax(node: OnnxNode) -> Cost:
        """5 FLOPs per element: subtract the max, exp, sum, divide (as aten._softmax)."""
        return Cost(elementwise=pointwise.SOFTMAX_PER_ELEMENT * node.input(0).numel)

    @registry.register("Hardmax", family="softmax")
    def hardmax(node: OnnxNode) -> Cost:
        """One comparison per element (argmax, then a one-hot write)."""
        return Cost(elementwise=node.input(0).numel)

    for op, torch_name in REDUCTIONS.items():
        registry.register(op, family="reduction")(_reduction(
            reduction.PER_INPUT[torch_name], reduction.PER_OUTPUT.get(torch_name, 0)))
    for op, (per_input, per_output) in ONNX_ONLY_REDUCTIONS.items():
        registry.register(op, family="reduction")(_reduction(per_input, per_output))

    @registry.register("TopK", family="reduction", note="selection: one comparison per element")
    def topk(node: OnnxNode) -> Cost:
        """One comparison per input element (as aten.topk)."""
        return Cost(elementwise=node.input(0).numel)


def _register_data(registry: FormulaRegistry) -> None:
    family = "data"
    registry.register_zero(*NO_DATA, family=family,
                           note="metadata or alias only: no FLOPs, no bytes", moves_data=False)
    registry.register_zero(*DATA_MOVEMENT, family=family,
                           note="copies, creates or rearranges data: no FLOPs, bytes moved")
    registry.register(*_GATHERS, family=family,
                      note="reads the indices and the gathered elements, not the whole source")(
        _gather)

    @registry.register("ScatterND", "ScatterElements", "Scatter", family=family)
    def scatter(node: OnnxNode) -> Cost:
        """A copy; with reduction add/mul/max/min one FLOP per update element."""
        updates = node.input(2)
        reducing = str(node.attr("reduction", "none")) != "none"
        return Cost(elementwise=updates.numel if reducing and is_float(updates) else 0)


def _build() -> FormulaRegistry:
    registry = FormulaRegistry()
    register(registry)
    return registry


_BUILTIN = _build()


def onnx_registry() -> FormulaRegistry:
    """A copy of the built-in ONNX registry; register formulas for custom ops on it.

    >>> from flopwise.formulas.spec import Cost
    >>> registry = onnx_registry()
    >>> @registry.register("my.domain.Scale", family="custom")
    ... def scale(node):
    ...     return Cost(elementwise=node.output(0).numel)
    >>> "my.domain.Scale" in registry and "my.domain.Scale" not in onnx_registry()
    True
    """
    return _BUILTIN.copy()


def builtin_onnx_registry() -> FormulaRegistry:
    """The built-in registry itself (read-only by convention; used when none is given)."""
    return _BUILTIN

