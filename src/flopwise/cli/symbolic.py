"""``flopwise profile MODEL --symbolic DIMS``: the model's cost as an exact polynomial of named
input dimensions (:func:`flopwise.scaling`), for the CLI.

DIMS is a comma-separated list of ``NAME[=START[:STEP]]``. Names: ``batch`` (axis 0 of every
input), ``seq`` (axis 1 of every input of 2 or more axes: token ids and their mask), ``side``
(the last two axes of 4-axis inputs, together: a square image), ``height`` and ``width`` (one of
them). START defaults to the input's own size, STEP to 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flopwise.errors import UsageError

__all__ = ["DIMENSION_AXES", "parse_symbolic", "profile_symbolic"]

#: name → (minimum number of axes an input needs, the axes the name sets)
DIMENSION_AXES: dict[str, tuple[int, tuple[int, ...]]] = {
    "batch": (1, (0,)), "seq": (2, (1,)), "side": (4, (-2, -1)), "height": (4, (-2,)),
    "width": (4, (-1,)),
}


@dataclass(frozen=True)
class _Dim:
    name: str
    start: int | None
    step: int


def parse_symbolic(text: str) -> list[_Dim]:
    """``"batch,seq=128:1"`` → the dimensions asked for (UsageError for anything else)."""
    dims = []
    for item in (part.strip() for part in text.split(",")):
        name, _, value = item.partition("=")
        if name not in DIMENSION_AXES:
            raise UsageError(f"--symbolic: unknown dimension {name!r}; use "
                             f"{', '.join(DIMENSION_AXES)} as NAME[=START[:STEP]]")
        start_text, _, step_text = value.partition(":")
        try:
            start = int(start_text) if start_text else None
            step = int(step_text) if step_text else 1
        except ValueError:
            raise UsageError(f"--symbolic: {item!r} is not NAME[=START[:STEP]] with integer "
                             "START and STEP") from None
        dims.append(_Dim(name, start, step))
    if len({d.name for d in dims}) != len(dims):
        raise UsageError(f"--symbolic: a dimension is named twice in {text!r}")
    return dims


def _resize(shape: tuple[int, ...], sizes: dict[str, int]) -> tuple[int, ...]:
    resized = list(shape)
    for name, size in sizes.items():
        rank, axes = DIMENSION_AXES[name]
        if len(shape) >= rank:
            for axis in axes:
                resized[axis] = size
    return tuple(resized)


def _start(dim: _Dim, shapes: Sequence[tuple[int, ...]]) -> int:
    if dim.start is not None:
        return dim.start
    rank, axes = DIMENSION_AXES[dim.name]
    for shape in shapes:
        if len(shape) >= rank:
            return shape[axes[0]]
    raise UsageError(f"--symbolic {dim.name}: no input has {rank} or more axes "
                     f"(inputs: {', '.join(map(str, shapes)) or 'none'})")


def profile_symbolic(model: str, requests: Sequence[Any], keyword_requests: dict[str, Any],
                     device: str, train: bool, model_dtype: str | None, backward: bool,
                     convention: str, symbolic: str) -> Any:
    """Build ``model`` once and fit its cost in the dimensions of ``symbolic``."""
    import flopwise
    from flopwise.models import TensorRequest, load_model, make_inputs

    dims = parse_symbolic(symbolic)
    loaded = load_model(model, device, train, model_dtype)
    base = list(requests) or [TensorRequest(shape) for shape in loaded.default_shapes]
    shapes = [r.shape for r in base] + [r.shape for r in keyword_requests.values()]
    sizes = {d.name: (_start(d, shapes), d.step) for d in dims}

    built: dict[tuple[tuple[str, int], ...], tuple[tuple[Any, ...], dict[str, Any]]] = {}

    def build(**named: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
        key = tuple(sorted(named.items()))
        if key not in built:
            positional = [TensorRequest(_resize(r.shape, named), r.dtype) for r in base]
            keyword = {k: TensorRequest(_resize(r.shape, named), r.dtype)
                       for k, r in keyword_requests.items()}
            built.clear()   # one size at a time: the inputs, then its keywords
            built[key] = make_inputs(loaded, positional, keyword, device)
        return built[key]

    return flopwise.scaling(loaded.model, lambda **named: build(**named)[0], sizes,
                            make_kwargs=lambda **named: build(**named)[1],
                            convention=convention, backward=backward,
                            name=f"{model} ({type(loaded.model).__name__})")
