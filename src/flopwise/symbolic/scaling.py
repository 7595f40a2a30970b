"""``flopwise.scaling``: MACs and FLOPs as exact polynomials of named input dimensions.

How: each dimension is sampled at equally spaced sizes ``start + i·step`` while the others stay
at their start; finite differences give its degree (at most ``max_degree``). The polynomial of
those degrees is solved exactly (rational coefficients) on the tensor grid of the first
``degree + 1`` sizes of every dimension, then checked at ``verify`` points off the grid, where
every dimension differs from all sampled sizes. Any mismatch raises
:class:`~flopwise.errors.NotPolynomialError`: data-dependent routing, or a floor in an output
size (a strided convolution with padding, sampled at sizes that are not multiples of its
stride: choose ``step`` as the product of the strides).

>>> import torch, flopwise
>>> net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
>>> fit = flopwise.scaling(net, lambda batch: torch.randn(batch, 8),
...                        {"batch": 1}, convention="macs")
>>> str(fit.macs)                       # 8·16 + 16·4 per row
'192·batch'
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from flopwise.errors import NotPolynomialError, UsageError
from flopwise.symbolic.polynomial import Polynomial, degree_along, fit_grid

__all__ = ["Dimension", "ModuleScaling", "Scaling", "scaling"]


@dataclass(frozen=True)
class Dimension:
    """A named input dimension sampled at ``start``, ``start + step``, …"""

    name: str
    start: int
    step: int = 1

    def size(self, index: int) -> int:
        return self.start + index * self.step


@dataclass(frozen=True)
class ModuleScaling:
    """One top-level module's (inclusive) MACs and FLOPs as polynomials."""

    name: str
    macs: Polynomial
    flops: Polynomial

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "macs": self.macs.to_dict(), "flops": self.flops.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleScaling:
        return cls(str(data["name"]), Polynomial.from_dict(data["macs"]),
                   Polynomial.from_dict(data["flops"]))


@dataclass(frozen=True)
class Scaling:
    """The model's MACs and FLOPs (under ``convention``) as exact polynomials, the same for each
    top-level module, with the sizes profiled and the sizes checked. A report section
    (``scaling``): ``report.with_section(fit)``."""

    KEY: ClassVar[str] = "scaling"

    model: str
    convention: str
    dimensions: tuple[Dimension, ...]
    macs: Polynomial
    flops: Polynomial
    modules: tuple[ModuleScaling, ...]
    profiled: tuple[tuple[int, ...], ...]
    verified: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "convention": self.convention,
            "dimensions": [{"name": d.name, "start": d.start, "step": d.step}
                           for d in self.dimensions],
            "macs": self.macs.to_dict(), "flops": self.flops.to_dict(),
            "modules": [m.to_dict() for m in self.modules],
            "profiled": [list(p) for p in self.profiled],
            "verified": [list(p) for p in self.verified],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scaling:
        return cls(
            str(data["model"]), str(data["convention"]),
            tuple(Dimension(str(d["name"]), int(d["start"]), int(d["step"]))
                  for d in data["dimensions"]),
            Polynomial.from_dict(data["macs"]), Polynomial.from_dict(data["flops"]),
            tuple(ModuleScaling.from_dict(m) for m in data["modules"]),
            tuple(tuple(p) for p in data["profiled"]), tuple(tuple(p) for p in data["verified"]),
        )


_Counts = dict[str, int]   # "macs", "flops", "macs:<module>", "flops:<module>"


def scaling(
    model: Any,
    make_inputs: Callable[..., Any],
    sizes: Mapping[str, int | tuple[int, int]],
    *,
    make_kwargs: Callable[..., Mapping[str, Any]] | None = None,
    convention: str = "standard",
    max_degree: int = 3,
    verify: int = 2,
    backward: bool = False,
    name: str | None = None,
) -> Scaling:
    """Profile ``model`` at several sizes and return its cost as exact polynomials.

    Args:
        model: as for :func:`flopwise.profile` (build it on ``meta`` to allocate nothing).
        make_inputs: ``make_inputs(**sizes)`` returns the inputs of one run (what
            :func:`flopwise.profile` takes as ``inputs``), e.g.
            ``lambda batch, seq: torch.zeros(batch, seq, dtype=torch.long, device="meta")``.
        make_kwargs: ``make_kwargs(**sizes)`` returns the keyword inputs of one run.
        sizes: each dimension's first size, or ``(first, step)``; the step keeps the sizes on
            a lattice where the counts are polynomial (a multiple of a network's total stride).
        convention: the convention of ``flops``.
        max_degree: the highest degree tried per dimension.
        verify: how many extra sizes (off the fitting grid) must agree.
        backward: also count the backward pass.

    Raises:
        NotPolynomialError: the counts are not a polynomial of degree ≤ ``max_degree`` in
            some dimension, or the fit fails at a verification size.
    """
    import flopwise

    dims = _dimensions(sizes)
    cache: dict[tuple[int, ...], _Counts] = {}

    def counts(point: tuple[int, ...]) -> _Counts:
        if point not in cache:
            named = _named(dims, point)
            report = flopwise.profile(model, make_inputs(**named),
                                      make_kwargs(**named) if make_kwargs else None,
                                      convention=convention, backward=backward)
            cache[point] = _counts(report)
        return cache[point]

    base = tuple(d.start for d in dims)
    degrees = [_degree(dims, i, counts, max_degree) for i in range(len(dims))]
    grid = list(itertools.product(*(range(k + 1) for k in degrees)))
    points = [tuple(d.size(i) for d, i in zip(dims, index, strict=True)) for index in grid]
    keys = list(counts(base))
    variables = tuple(d.name for d in dims)
    fits = {key: fit_grid(variables, degrees, {p: counts(p)[key] for p in points})
            for key in keys}
    checks = [tuple(d.size(max_degree + 2 + j * (max_degree + 1)) for d in dims)
              for j in range(1, verify + 1)]
    for point in checks:
        _check(fits, counts(point), point, dims)
    label = name or getattr(model, "__class__", type(model)).__name__
    return Scaling(
        model=label, convention=convention, dimensions=dims,
        macs=fits["macs"], flops=fits["flops"],
        modules=tuple(ModuleScaling(key[5:], fits[key], fits["flops:" + key[5:]])
                      for key in keys if key.startswith("macs:")),
        profiled=tuple(sorted(set(cache) - set(checks))), verified=tuple(checks),
    )


def _dimensions(sizes: Mapping[str, int | tuple[int, int]]) -> tuple[Dimension, ...]:
    if not sizes:
        raise UsageError("scaling needs at least one dimension, e.g. {'seq': 128}")
    dims = []
    for name, value in sizes.items():
        start, step = value if isinstance(value, tuple) else (value, 1)
        if not (isinstance(start, int) and isinstance(step, int)) or start < 1 or step < 1:
            raise UsageError(f"dimension {name!r}: start and step must be positive integers, "
                             f"not {value!r}")
        dims.append(Dimension(str(name), start, step))
    return tuple(dims)


def _named(dims: tuple[Dimension, ...], point: tuple[int, ...]) -> dict[str, int]:
    return {d.name: size for d, size in zip(dims, point, strict=True)}


def _counts(report: Any) -> _Counts:
    """Total and top-level module MACs and FLOPs of one run."""
    total = report.total
    values = {"macs": total.macs, "flops": total.flops}
    for row in report.modules(max_depth=1):
        if row.depth == 1:
            values[f"macs:{row.name}"] = row.macs
            values[f"flops:{row.name}"] = row.flops
    return values


def _degree(dims: tuple[Dimension, ...], axis: int,
            counts: Callable[[tuple[int, ...]], _Counts], max_degree: int) -> int:
    """The highest degree, over every count, along one dimension (the others at their start)."""
    line = [tuple(d.size(i) if k == axis else d.start for k, d in enumerate(dims))
            for i in range(max_degree + 2)]
    series = [counts(point) for point in line]
    highest = 0
    for key in series[0]:
        degree = degree_along([values.get(key, 0) for values in series])
        if degree is None:
            dim = dims[axis]
            sampled = ", ".join(str(point[axis]) for point in line)
            raise NotPolynomialError(
                f"{_label(key)} is not a polynomial of degree ≤ {max_degree} in {dim.name} "
                f"(sampled at {sampled}): the cost depends on {dim.name} through a floor (a "
                "strided layer whose padding rounds: sample at multiples of the total stride, "
                f"e.g. step 32 for a ResNet) or through data-dependent routing; sample on a "
                f"lattice: --symbolic {dim.name}={dim.start}:STEP, or sizes={{{dim.name!r}: "
                f"({dim.start}, STEP)}}")
        highest = max(highest, degree)
    return highest


def _check(fits: Mapping[str, Polynomial], observed: _Counts, point: tuple[int, ...],
           dims: tuple[Dimension, ...]) -> None:
    where = ", ".join(f"{d.name}={size}" for d, size in zip(dims, point, strict=True))
    for key, poly in fits.items():
        predicted = poly(**_named(dims, point))
        if predicted != observed.get(key, 0):
            raise NotPolynomialError(
                f"{_label(key)} at {where} is {observed.get(key, 0):,}, but the polynomial "
                f"fitted at the other sizes gives {predicted}: the cost is not polynomial in "
                f"{', '.join(d.name for d in dims)} on these sizes (a floor in an output size, "
                "or data-dependent routing); try a step that is a multiple of the total stride")


def _label(key: str) -> str:
    metric, _, module = key.partition(":")
    metric = "MACs" if metric == "macs" else "FLOPs"
    return f"{metric} of {module}" if module else metric
