"""Plots with matplotlib (the optional ``plot`` extra): per-layer costs, the roofline, and models
side by side.

- :func:`plot_report`: horizontal bars of the modules with the largest own FLOPs, parameters and
  bytes moved (children excluded, as in the HTML report), and, when the report has a
  ``roofline`` section, the roofline with one point per module.
- :func:`plot_compare`: several models, FLOPs against latency (measured when the reports have
  it, else estimated) and FLOPs against parameters: fewer FLOPs is not always faster.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas, so no pyplot state and
no display are touched. Axis labels and annotations are written by
:mod:`flopwise.render.units`. Without matplotlib both raise :class:`~flopwise.MissingExtraError`
naming ``pip install 'flopwise[plot]'``.

>>> data = {"schema": 1, "convention": "standard", "run": {"model": "Tiny"},
...         "total": {"params": 12, "macs": 24, "flops": 48, "bytes_read": 128,
...                   "bytes_written": 24},
...         "modules": [{"name": "", "type": "Linear", "depth": 0, "params": 12, "flops": 48,
...                      "self_flops": 48, "bytes_read": 128, "bytes_written": 24}]}
>>> import tempfile, pathlib
>>> path = plot_report(data, pathlib.Path(tempfile.mkdtemp()) / "tiny.png")
>>> path.read_bytes()[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flopwise.errors import FlopwiseError, MissingExtraError, UsageError
from flopwise.render.units import format_bytes, format_count, format_rate, format_seconds
from flopwise.render.view import ReportView, Viewable, as_view, short_name
from flopwise.saved import RooflineDevice

__all__ = [
    "PLOT_TOP",
    "ComparePoint",
    "check_plot_target",
    "plot_report",
    "plot_compare",
    "compare_points",
]

#: How many modules each bar chart of :func:`plot_report` shows.
PLOT_TOP = 20

_BLUE, _GREEN, _ORANGE, _DARK = "#2f6fdb", "#2e9e6b", "#d9822b", "#1d2330"


def _matplotlib() -> tuple[Any, Any, Any, Any]:
    """``(Figure, FigureCanvasAgg, FuncFormatter, MultipleLocator)``, or MissingExtraError."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import FuncFormatter, MultipleLocator
    except ImportError:
        raise MissingExtraError("matplotlib", "plot", "drawing plots (--plot)") from None
    return Figure, FigureCanvasAgg, FuncFormatter, MultipleLocator


def check_plot_target(path: str | Path) -> None:
    """Fail early, before a long run: matplotlib must be installed, the suffix known.

    >>> check_plot_target("costs.gif")
    Traceback (most recent call last):
    ...
    flopwise.errors.UsageError: cannot write a plot to costs.gif: use a .png, .svg or .pdf file name
    """
    if Path(path).suffix.lower() not in (".png", ".svg", ".pdf"):
        raise UsageError(f"cannot write a plot to {path}: use a .png, .svg or .pdf file name")
    _matplotlib()


def _save(figure: Any, canvas_class: Any, path: str | Path, dpi: int) -> Path:
    target = Path(path)
    check_plot_target(target)
    canvas_class(figure)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(target, dpi=dpi)
    except OSError as error:
        raise FlopwiseError(f"cannot write {target}: {error.strerror or error}; "
                            "choose a writable path for --plot") from None
    return target


def _bars(axes: Any, formatter: Any, locator: Any, items: Sequence[tuple[str, int]],
          text: Callable[[float], str], colour: str, title: str) -> None:
    axes.set_title(title, loc="left", fontsize=11)
    if not items:
        axes.text(0.5, 0.5, "no module has any", ha="center", va="center",
                  transform=axes.transAxes)
        axes.set_axis_off()
        return
    names = [short_name(name, 42) for name, _ in items][::-1]
    values = [value for _, value in items][::-1]
    bars = axes.barh(range(len(values)), values, color=colour)
    axes.set_yticks(range(len(values)), names, fontsize=8, family="monospace")
    axes.xaxis.set_major_formatter(formatter(lambda v, _pos: text(v)))
    if text is format_bytes:            # ticks at whole binary steps: 2 MiB, 4 MiB, ...
        axes.xaxis.set_major_locator(locator(2.0 ** math.floor(math.log2(max(values) / 4))))
    axes.bar_label(bars, labels=[text(v) for v in values], padding=3, fontsize=7)
    axes.set_xlim(0, max(values) * 1.18)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelsize=8)


def _roofline(axes: Any, formatter: Any, view: ReportView, device: RooflineDevice) -> None:
    own_bytes = view.own_bytes()
    points = [(row.self_flops / own_bytes[i], row.self_flops) for i, row in enumerate(view.rows)
              if row.self_flops > 0 and own_bytes[i] > 0]
    ridge = device.ridge_flops_per_byte
    xs = [x for x, _ in points] + [ridge]
    low = 10.0 ** math.floor(math.log10(min(xs) / 1.5))
    high = 10.0 ** math.ceil(math.log10(max(xs) * 1.5))
    axes.plot([low, ridge, high], [low * device.bandwidth_bytes_per_s, device.peak_flops_per_s,
                                   device.peak_flops_per_s], color=_DARK, linewidth=2)
    for bound, colour in (("memory", _BLUE), ("compute", _ORANGE)):
        chosen = [x for x, _ in points if (x > ridge) == (bound == "compute")]
        ys = [min(device.peak_flops_per_s, x * device.bandwidth_bytes_per_s) for x in chosen]
        if chosen:
            axes.scatter(chosen, ys, s=22, color=colour, alpha=0.75, zorder=3,
                         label=f"{bound}-bound modules ({len(chosen)}), own FLOPs and bytes")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(low, high)
    axes.xaxis.set_major_formatter(formatter(
        lambda v, _pos: format_count(v, digits=0 if v >= 1 else 2)))
    axes.yaxis.set_major_formatter(formatter(lambda v, _pos: format_rate(v, "FLOP/s", digits=0)))
    axes.set_xlabel("arithmetic intensity (FLOPs per byte moved)")
    axes.set_ylabel("attainable FLOP/s")
    axes.set_title(
        f"roofline on {device.name}: {format_rate(device.peak_flops_per_s, 'FLOP/s')}, "
        f"{format_rate(device.bandwidth_bytes_per_s, 'B/s')}, ridge at "
        f"{format_count(ridge, unit='FLOP/B')}", loc="left", fontsize=11)
    axes.grid(True, which="major", color="#dde2ea")
    if points:
        axes.legend(loc="lower right", fontsize=8)


def plot_report(report: Viewable, path: str | Path, *, top: int = PLOT_TOP,
                dpi: int = 110) -> Path:
    """Draw the per-layer cost bars (and the roofline, when there is one) to ``path``.

    The format follows the suffix (.png, .svg, .pdf). Returns the path written.
    """
    Figure, Canvas, Formatter, Locator = _matplotlib()
    view = as_view(report)
    convention = view.convention
    device = view.roofline_device
    panels = [
        (view.top([row.self_flops for row in view.rows], top), format_count,
         _BLUE, f"own FLOPs ({convention}), top {top} modules"),
        (view.top(view.own("params"), top), format_count, _GREEN,
         f"own parameters, top {top} modules"),
        (view.top(view.own_bytes(), top), format_bytes, _ORANGE,
         f"own bytes moved (read + written), top {top} modules"),
    ]
    heights = [max(1.6, 0.24 * len(items) + 0.9) for items, *_ in panels]
    if device is not None:
        heights.append(5.5)
    figure = Figure(figsize=(11, sum(heights) + 0.9), layout="constrained")
    grid = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    total = view.total
    figure.suptitle(
        f"{view.run.model}: {format_count(total.params)} params, {format_count(total.macs)} "
        f"MACs, {format_count(total.flops)} FLOPs ({convention})", fontsize=12)
    for row, (items, text, colour, title) in enumerate(panels):
        _bars(figure.add_subplot(grid[row]), Formatter, Locator, items, text, colour, title)
    if device is not None:
        _roofline(figure.add_subplot(grid[len(panels)]), Formatter, view, device)
    return _save(figure, Canvas, path, dpi)


@dataclass(frozen=True)
class ComparePoint:
    """One model of a comparison: its name, parameters, FLOPs and latency (when known)."""

    name: str
    params: int
    flops: int
    convention: str
    latency_s: float | None
    measured: bool


def compare_points(reports: Sequence[Viewable]) -> list[ComparePoint]:
    """One point per report; latency is measured when the report has it, else estimated.

    Raises :class:`~flopwise.UsageError` when the reports count FLOPs under different
    conventions (their FLOPs would not be comparable).
    """
    points = []
    for report in reports:
        view = as_view(report)
        measured = view.measured_latency_s
        latency = measured if measured is not None else view.estimated_latency_s
        points.append(ComparePoint(view.run.model, view.total.params, view.total.flops,
                                   view.convention, latency, measured is not None))
    conventions = sorted({p.convention for p in points})
    if len(conventions) > 1:
        raise UsageError(f"the reports count FLOPs under different conventions "
                         f"({', '.join(conventions)}); profile them all with one --convention")
    return points


def plot_compare(points: Sequence[ComparePoint], path: str | Path, *, dpi: int = 110) -> Path:
    """FLOPs against latency and FLOPs against parameters, one labelled point per model."""
    Figure, Canvas, Formatter, _ = _matplotlib()
    if not points:
        raise UsageError("nothing to plot: compare at least one model")
    timed = [p for p in points if p.latency_s is not None]
    convention = points[0].convention
    panels = 2 if timed else 1
    figure = Figure(figsize=(6.2 * panels, 5.2), layout="constrained")
    axes_list = [figure.add_subplot(1, panels, i + 1) for i in range(panels)]
    flops_axis = Formatter(lambda v, _pos: format_count(v))
    if timed:
        axes = axes_list[0]
        kind = ("measured" if all(p.measured for p in timed)
                else "estimated" if not any(p.measured for p in timed)
                else "measured or estimated")
        axes.scatter([p.flops for p in timed], [p.latency_s for p in timed], s=40, color=_BLUE,
                     zorder=3)
        _scale(axes, "x", [p.flops for p in timed])      # scales first: they reset formatters
        _scale(axes, "y", [p.latency_s or 0.0 for p in timed])
        _annotate(axes, [(_label(p, points), p.flops, p.latency_s or 0.0) for p in timed])
        axes.set_xlabel(f"FLOPs ({convention})")
        axes.set_ylabel(f"latency ({kind})")
        axes.xaxis.set_major_formatter(flops_axis)
        axes.yaxis.set_major_formatter(Formatter(lambda v, _pos: format_seconds(v)))
        axes.set_title("FLOPs vs latency", loc="left", fontsize=11)
        axes.grid(True, color="#dde2ea")
    axes = axes_list[-1]
    axes.scatter([p.flops for p in points], [p.params for p in points], s=40, color=_GREEN,
                 zorder=3)
    _scale(axes, "x", [p.flops for p in points])
    _scale(axes, "y", [p.params for p in points])
    _annotate(axes, [(_label(p, points), p.flops, p.params) for p in points])
    axes.set_xlabel(f"FLOPs ({convention})")
    axes.set_ylabel("parameters")
    axes.xaxis.set_major_formatter(flops_axis)
    axes.yaxis.set_major_formatter(Formatter(lambda v, _pos: format_count(v)))
    axes.set_title("FLOPs vs parameters", loc="left", fontsize=11)
    axes.grid(True, color="#dde2ea")
    for axes in axes_list:
        axes.spines[["top", "right"]].set_visible(False)
    return _save(figure, Canvas, path, dpi)


def _label(point: ComparePoint, points: Sequence[ComparePoint]) -> str:
    """The model's name without its class (``torchvision:resnet18 (ResNet)`` → ``resnet18``
    when every model shares the ``torchvision:`` source)."""
    name = point.name.split(" (")[0]
    sources = {p.name.split(" (")[0].partition(":")[0] for p in points}
    if len(sources) == 1 and ":" in name:
        name = name.partition(":")[2]
    return name


def _annotate(axes: Any, labelled: Sequence[tuple[str, float, float]]) -> None:
    """Label each point; a label that would sit on an earlier one's goes below its point."""
    def place(value: float, which: str) -> float:
        low, high = axes.get_xlim() if which == "x" else axes.get_ylim()
        scale = axes.get_xscale() if which == "x" else axes.get_yscale()
        if scale == "log":
            return (math.log10(value) - math.log10(low)) / (math.log10(high) - math.log10(low))
        return float((value - low) / (high - low))

    taken: list[tuple[float, float]] = []
    for name, x, y in sorted(labelled, key=lambda item: (item[1], item[2])):
        at = (place(x, "x"), place(y, "y"))
        crowded = any(abs(at[0] - u) < 0.25 and abs(at[1] - v) < 0.06 for u, v in taken)
        offset = (6, -11) if crowded else (6, 4)
        taken.append((at[0], at[1] + (-0.05 if crowded else 0.0)))
        axes.annotate(name, (x, y), textcoords="offset points", xytext=offset, fontsize=8)


def _scale(axes: Any, which: str, values: Sequence[float]) -> None:
    """A log axis when the values span more than 30×, else a linear one from zero."""
    set_scale = axes.set_xscale if which == "x" else axes.set_yscale
    set_limits = axes.set_xlim if which == "x" else axes.set_ylim
    low, high = min(values), max(values)
    if low > 0 and high > 30 * low:
        set_scale("log")
        set_limits(low / 2, high * 2)
    else:
        set_limits(0, high * 1.25 if high > 0 else 1)
