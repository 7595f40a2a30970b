"""Matrix products: mm, addmm, bmm, baddbmm, mv, dot and their relatives.

MACs of ``[M, K] @ [K, N]`` are ``M·N·K``; each of the ``M·N`` outputs is one K-term dot product.
Broadcasting forms of ``@``, ``torch.matmul``, ``nn.Linear`` and ``einsum`` reach the dispatcher
as these ops (after views and expands), so they are counted here.
"""

from __future__ import annotations

from flopwise.formulas._helpers import prod
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost, TensorSpec

__all__ = ["matmul_cost", "TABLE", "trilinear_cost"]


def matmul_cost(batch: int, m: int, k: int, n: int, bias: bool = False) -> Cost:
    """``batch`` products of ``[m, k] @ [k, n]``; ``bias`` adds one bias per output.

    >>> matmul_cost(1, 2, 3, 4).macs
    24
    """
    outputs = batch * m * n
    return Cost(macs=outputs * k, dot_outputs=outputs, bias_adds=outputs if bias else 0)


def _sumproduct_pair(a: list[int], b: list[int], sum_dims: list[int]) -> tuple[Cost, list[int]]:
    """ATen's ``sumproduct_pair``: ``(a * b).sum(sum_dims, keepdim=True)`` over broadcast shapes.

    No dims to sum: a plain multiply (one FLOP per output element). Otherwise a summed dim
    that one side lacks (size 1) is summed out of the other side first (one add per element of
    it); what remains is one batched product, a MAC per term and a dot product per output.
    """
    a, b = list(a), list(b)
    if not sum_dims:
        out = [max(x, y) for x, y in zip(a, b)]
        return Cost(elementwise=prod(out)), out
    pre_sum = 0
    for d in sum_dims:
        if a[d] == 1 and b[d] > 1:
            pre_sum += prod(b)
            b[d] = 1
        elif b[d] == 1 and a[d] > 1:
            pre_sum += prod(a)
            a[d] = 1
    terms = prod(max(x, y) for x, y in zip(a, b))
    out = [1 if d in sum_dims else max(x, y) for d, (x, y) in enumerate(zip(a, b))]
    return Cost(macs=terms, dot_outputs=prod(out), elementwise=pre_sum), out


def trilinear_cost(s1: tuple[int, ...], s2: tuple[int, ...], s3: tuple[int, ...],
                   expand1: list[int], expand2: list[int], expand3: list[int],
                   sumdim: list[int], unroll_dim: int = 1) -> Cost:
    """``aten._trilinear`` (``nn.Bilinear`` and its backward) as its kernel computes it.

    The three inputs are unsqueezed at their ``expand`` dims to one rank; for each index of
    ``unroll_dim`` the kernel contracts ``i1·i2`` over the summed dims ``i3`` lacks, then the
    result with ``i3`` over the rest, and adds the slice into the output. For ``nn.Bilinear``
    (x1 [N,I], W [O,I,J], x2 [N,J]) that is N·O·J·(I + 1) MACs and N·O adds.

    >>> trilinear_cost((2, 3), (5, 3, 4), (2, 4), [1, 3], [0], [1, 2], [2, 3]).macs  # 2·5·4·(3+1)
    160
    """
    rank = len(s1) + len(expand1)
    shapes = []
    for shape, expand in ((s1, expand1), (s2, expand2), (s3, expand3)):
        sizes, rest = [], iter(shape)
        for d in range(rank):
            sizes.append(1 if d in expand else next(rest))
        shapes.append(sizes)
    i1, i2, i3 = shapes
    unroll = max(i1[unroll_dim], i2[unroll_dim], i3[unroll_dim])
    for sizes in shapes:
        sizes[unroll_dim] = 1               # one slice of the unrolled dim at a time
    sum_12 = [d for d in sumdim if d != unroll_dim and d in expand3]
    sum_23 = [d for d in sumdim if d != unroll_dim and d not in expand3]
    first, buffer = _sumproduct_pair(i1, i2, sum_12)
    second, buffer = _sumproduct_pair(buffer, i3, sum_23)
    return Cost(macs=unroll * (first.macs + second.macs),
                dot_outputs=unroll * (first.dot_outputs + second.dot_outputs),
                elementwise=unroll * (first.elementwise + second.elementwise + prod(buffer)))


def _has_bias(beta: float | int) -> bool:
    return beta != 0


TABLE = FormulaTable("matmul")


@TABLE.formula("aten._trilinear",
               note="nn.Bilinear: N·O·J·(I + 1) MACs, as the unrolled kernel computes")
def trilinear(result: TensorSpec, i1: TensorSpec, i2: TensorSpec, i3: TensorSpec,
              expand1, expand2, expand3, sumdim, unroll_dim: int = 1, *_, **__) -> Cost:
    """Two contractions per slice of the unrolled dim, plus the slice's add."""
    return trilinear_cost(i1.shape, i2.shape, i3.shape, list(expand1), list(expand2),
                          list(expand3), list(sumdim), unroll_dim)


@TABLE.formula("aten.mm", "aten._int_mm")
def mm(result: TensorSpec, a: TensorSpec, b: TensorSpec, *_, **__) -> Cost:
    """[M,K] @ [K,N]: M·N·K MACs."""
    m, k = a.shape
    return matmul_cost(1, m, k, b.shape[1])


@TABLE.formula("aten.addmm")
def addmm(result: TensorSpec, bias: TensorSpec, a: TensorSpec, b: TensorSpec,
          *_, beta: float = 1, **__) -> Cost:
    """bias + [M,K] @ [K,N]: M·N·K MACs and M·N bias adds."""
    m, k = a.shape
    return matmul_cost(1, m, k, b.shape[1], bias=_has_bias(beta))


@TABLE.formula("aten._scaled_mm",
               note="fp8 GEMM; scales are applied per output (counted as part of the MAC)")
def scaled_mm(result: TensorSpec, a: TensorSpec, b: TensorSpec, *args, bias=None, **__) -> Cost:
    """[M,K] @ [K,N] in fp8 with scales: M·N·K MACs (+ M·N bias adds)."""
    m, k = a.shape
    has_bias = bias is not None or (len(args) >= 3 and args[2] is not None)
    return matmul_cost(1, m, k, b.shape[1], bias=has_bias)


@TABLE.formula("aten.bmm")
def bmm(result: TensorSpec, a: TensorSpec, b: TensorSpec, *_, **__) -> Cost:
    """[B,M,K] @ [B,K,N]: B·M·N·K MACs."""
    batch, m, k = a.shape
    return matmul_cost(batch, m, k, b.shape[2])


@TABLE.formula("aten.baddbmm")
def baddbmm(result: TensorSpec, bias: TensorSpec, a: TensorSpec, b: TensorSpec,
            *_, beta: float = 1, **__) -> Cost:
    """bias + [B,M,K] @ [B,K,N]: B·M·N·K MACs and B·M·N bias adds."""
    batch, m, k = a.shape
    return matmul_cost(batch, m, k, b.shape[2], bias=_has_bias(beta))


@TABLE.formula("aten.addbmm")
def addbmm(result: TensorSpec, bias: TensorSpec, a: TensorSpec, b: TensorSpec,
           *_, beta: float = 1, **__) -> Cost:
    """bias + Σ_b [M,K] @ [K,N]: B·M·N·K MACs; the B products sum into M·N outputs."""
    batch, m, k = a.shape
    n = b.shape[2]
    return Cost(macs=batch * m * n * k, dot_outputs=m * n,
                bias_adds=m * n if _has_bias(beta) else 0)


@TABLE.formula("aten._grouped_mm",
               note="mixture-of-experts GEMM: each row meets one group's weight")
def grouped_mm(result: TensorSpec, a: TensorSpec, b: TensorSpec, *_, **__) -> Cost:
    """Grouped GEMM: every output element is one K-term dot product (K the shared dim)."""
    k = a.shape[-1]
    if a.ndim == 2 and b.ndim == 2:  # groups split K: [M, ΣK] @ [ΣK, N] -> [G, M, N]
        outputs = a.shape[0] * b.shape[1]
        return Cost(macs=outputs * k, dot_outputs=result.numel)
    return Cost(macs=result.numel * k, dot_outputs=result.numel)


@TABLE.formula("aten.linalg_solve_triangular",
               note="substitution: row i of each solution takes i MACs and a division")
def solve_triangular(result: TensorSpec, a: TensorSpec, b: TensorSpec, *_,
                     unitriangular: bool = False, **__) -> Cost:
    """Solve A·X = B (or X·A = B) for triangular [n,n] A: each of the result's elements is
    b minus an i-term dot product (i = 0..n-1), then divided by A's diagonal (not when
    unitriangular): result·(n-1)/2 MACs, one b term (as a bias add) per element."""
    n = a.shape[-1]
    return Cost(macs=result.numel * (n - 1) // 2, dot_outputs=result.numel,
                bias_adds=result.numel, elementwise=0 if unitriangular else result.numel)


@TABLE.formula("aten.mv")
def mv(result: TensorSpec, a: TensorSpec, v: TensorSpec, *_, **__) -> Cost:
    """[M,K] @ [K]: M·K MACs."""
    m, k = a.shape
    return matmul_cost(1, m, k, 1)


@TABLE.formula("aten.addmv")
def addmv(result: TensorSpec, bias: TensorSpec, a: TensorSpec, v: TensorSpec,
          *_, beta: float = 1, **__) -> Cost:
    """bias + [M,K] @ [K]: M·K MACs and M bias adds."""
    m, k = a.shape
    return matmul_cost(1, m, k, 1, bias=_has_bias(beta))


@TABLE.formula("aten.dot", "aten.vdot")
def dot(result: TensorSpec, a: TensorSpec, b: TensorSpec, *_, **__) -> Cost:
    """[K] · [K]: K MACs, one output."""
    return matmul_cost(1, 1, a.shape[0], 1)


@TABLE.formula("aten.addr")
def addr(result: TensorSpec, bias: TensorSpec, u: TensorSpec, v: TensorSpec,
         *_, beta: float = 1, **__) -> Cost:
    """bias + outer(u, v): M·N one-term products and M·N bias adds."""
    return matmul_cost(1, u.shape[0], 1, v.shape[0], bias=_has_bias(beta))


@TABLE.formula("aten.linear",
               note="reached only where linear is not decomposed (e.g. some fake-tensor paths)")
def linear(result: TensorSpec, x: TensorSpec, weight: TensorSpec, bias=None, *_, **__) -> Cost:
    """[..., I] @ [O, I]ᵀ: (rows)·I·O MACs, + rows·O bias adds."""
    out_features, in_features = weight.shape
    rows = prod(x.shape[:-1])
    return matmul_cost(1, rows, in_features, out_features, bias=bias is not None)
