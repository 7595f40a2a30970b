"""The report as one self-contained HTML file, and as a static table for notebooks.

``render_html`` writes a whole page that works offline: its style sheet and its small vanilla
script are inline, the charts are inline SVG (no namespace URL: HTML5 parses ``<svg>`` itself),
there are no fonts, images or links to load, and no ``http://`` or ``https://`` appears anywhere
in the file. It shows:

- a summary: parameters, MACs, FLOPs with the convention's name, bytes moved, parameter memory,
  and peak memory, estimated time and measured time when the report carries those sections;
- the module table as a tree: expand and collapse, sort by any column (siblings sort within their
  parent; the *flat* view sorts every module together), filter by name or type, % FLOPs bars;
- bar charts of the modules with the largest own FLOPs, parameters and bytes moved, and a
  roofline scatter of the modules when the report has a ``roofline`` section;
- phases, the per-operator table, the unsupported ops, the convention manifest, every extra
  section and the run's details.

Numbers become text only through :mod:`flopwise.render.units`, here in Python: every cell
carries its formatted text and, in ``data-v``, the raw number the script sorts by. The script
formats nothing; the only numbers it writes are CSS widths it never shows as text.

``render_html_table`` is the same module table without script (for ``Report._repr_html_``).

Both read a :class:`~flopwise.render.view.ReportView`, and accept what it is built from: a live
:class:`~flopwise.Report`, its JSON form (``report.to_dict()``, or a saved file read with
:func:`flopwise.saved.load_report`) or a saved file's path; importing this module needs no torch.

>>> data = {"schema": 1, "convention": "macs", "run": {"model": "Tiny"},
...         "total": {"params": 12, "trainable_params": 12, "macs": 24, "flops": 24,
...                   "bytes_read": 128, "bytes_written": 24},
...         "modules": [{"name": "", "type": "Linear", "depth": 0, "calls": 1, "called": True,
...                      "params": 12, "macs": 24, "flops": 24, "self_flops": 24,
...                      "bytes_read": 128, "bytes_written": 24, "output_bytes": 24}]}
>>> page = render_html(data)
>>> page.startswith("<!DOCTYPE html>") and "FLOPs (macs)" in page and "http" not in page
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from flopwise.records import ModuleRow
from flopwise.render.columns import COLUMNS, Kind
from flopwise.render.units import (
    format_bytes,
    format_count,
    format_grouped,
    format_number,
    format_percent,
    format_rate,
    format_seconds,
)
from flopwise.render.view import (
    NOT_CALLED,
    ReportView,
    Viewable,
    as_view,
    by_dtype,
    label,
    run_line,
    short_name,
)
from flopwise.saved import RooflineDevice

__all__ = ["render_html", "render_html_table", "format_field", "CHART_TOP"]

#: How many modules each bar chart shows (the largest by the chart's quantity).
CHART_TOP = 25
#: Tree rows are shown expanded down to this depth when the page opens (root = 0).
OPEN_DEPTH = 2

_LEGEND = ("counts: K = 10³, M = 10⁶, G = 10⁹, T = 10¹², P = 10¹⁵; "
           "bytes (B): KiB = 2¹⁰, MiB = 2²⁰, GiB = 2³⁰, TiB = 2⁴⁰")
_SKIPPED_FIELDS = ("source", "url", "link", "reference")
# per-module fields of extra sections that repeat the core columns (or name the row)
_CORE_FIELDS = frozenset({"name", "flops", "macs", "params", "bytes_moved", "bytes_read",
                          "bytes_written"})


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


# -- formatting by field name ------------------------------------------------------------------
def _rate(key: str, value: float) -> str:
    """FLOP/s and B/s with an attached SI prefix; other rates as a count per second."""
    quantity = key[: -len("_per_s")].rpartition("_")[2]
    if quantity in ("flops", "bytes"):
        return format_rate(value, "FLOP/s" if quantity == "flops" else "B/s")
    return f"{format_count(value)} {quantity or 'per'}/s"


def format_field(key: str, value: Any, unit_of: str = "") -> str:
    """A value of an extra section as text, its unit read from the field's name.

    ``*_bytes`` are IEC bytes, ``*_per_s`` SI rates, ``*_s`` seconds, ``*_per_byte`` intensities,
    other numbers SI counts; strings and booleans as they are. ``unit_of`` names the field whose
    unit applies when ``key`` has none (the entries of ``phase_time_s`` are seconds).

    >>> format_field("peak_bytes", 3 * 1024**3), format_field("time_s", 0.0042)
    ('3.00 GiB', '4.20 ms')
    >>> format_field("peak_flops_per_s", 989.4e12), format_field("intensity_flops_per_byte", 295.3)
    ('989.40 TFLOP/s', '295.30 FLOP/B')
    >>> format_field("tokens_per_s", 123456.0), format_field("forward", 0.5, unit_of="phase_time_s")
    ('123.46 K tokens/s', '500.00 ms')
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if not math.isfinite(value):
        return "∞" if value > 0 else "-"
    if unit_of and not _has_unit(key):
        key = unit_of
    if key.endswith("_per_s"):
        return _rate(key, value)
    if key.endswith("_per_byte"):
        return format_count(value, unit="FLOP/B")
    if key.endswith("_bytes") or key.startswith("bytes"):
        return format_bytes(value)
    if key.endswith("_s"):
        return format_seconds(value)
    if key.endswith(("efficiency", "fraction", "ratio")):
        return format_number(value, digits=3)
    return format_count(value)


def _has_unit(key: str) -> bool:
    return key.endswith(("_bytes", "_s", "_per_byte")) or key.startswith("bytes")


def _field_label(key: str) -> str:
    """``activation_peak_bytes`` → ``activation peak (B)``; ``time_s`` → ``time``."""
    if key.endswith(("_per_s", "_per_byte")):
        return key.replace("_", " ")
    if key.startswith("bytes"):
        return key.replace("_", " ") + " (B)"
    for suffix, unit in (("_bytes", " (B)"), ("_s", "")):
        if key.endswith(suffix):
            return key[: -len(suffix)].replace("_", " ") + unit
    return key.replace("_", " ")


def _skipped(key: str, value: Any) -> bool:
    """Sources and URLs stay out of the page: it holds no link to anything."""
    lowered = key.lower()
    if any(word in lowered for word in _SKIPPED_FIELDS):
        return True
    return isinstance(value, str) and "://" in value


# -- the pieces of a report --------------------------------------------------------------------
def _card(label: str, value: str, sub: str = "", key: str = "") -> str:
    sub_html = f'<div class="sub">{_e(sub)}</div>' if sub else ""
    return (f'<div class="card" data-card="{_e(key)}"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}</div>{sub_html}</div>')


def _summary(view: ReportView) -> str:
    total = view.total
    convention = view.convention
    read, written = total.bytes_read, total.bytes_written
    cards = [
        _card("parameters", format_count(total.params),
              f"{format_grouped(total.params)} · "
              f"{format_count(total.trainable_params)} trainable", "params"),
        _card("MACs", format_count(total.macs), format_grouped(total.macs), "macs"),
        _card(f"FLOPs ({convention})", format_count(total.flops),
              f"{format_grouped(total.flops)} · convention {convention}", "flops"),
        _card("bytes moved", format_bytes(read + written),
              f"read {format_bytes(read)} · written {format_bytes(written)}", "bytes"),
    ]
    if view.param_bytes:
        buffers = view.buffer_bytes
        sub = by_dtype(view.param_bytes) + (f" · buffers {by_dtype(buffers)}" if buffers else "")
        cards.append(_card("parameter memory", format_bytes(sum(view.param_bytes.values())), sub,
                           "param_bytes"))
    peak = view.peak_memory_bytes
    if peak is not None:
        parts = [f"{key.removesuffix('_bytes').replace('_', ' ')} {format_bytes(size)}"
                 for key, size in view.peak_memory_parts.items()]
        cards.append(_card("peak memory", format_bytes(peak), " · ".join(parts), "memory"))
    estimated = view.estimated_latency_s
    if estimated is not None:
        device = view.roofline_device
        sub = f"roofline on {device.name}" if device else "roofline estimate"
        for key, rate in view.estimated_rates.items():
            sub += f" · {format_field(key, rate)}"
        cards.append(_card("estimated time", format_seconds(estimated), sub, "estimated"))
    measured = view.measured_latency_s
    if measured is not None:
        cards.append(_card("measured time", format_seconds(measured),
                           f"wall time on {view.run.device or 'the device'}", "measured"))
    return f'<section id="summary"><div class="cards">{"".join(cards)}</div></section>'


# -- the module table --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Column:
    """A column of the page's module table: key, header, how a row's value is read (``get``)
    and written (``text``; None for text columns), and whether it draws a % FLOPs bar."""

    key: str
    header: str
    get: Callable[[ModuleRow], Any]
    text: Callable[[Any], str] | None
    percent: bool = False

    @property
    def numeric(self) -> bool:
        return self.text is not None


def _core(view: ReportView, key: str, header: str | None = None) -> _Column:
    """A column of :data:`flopwise.render.columns.COLUMNS`, read through the view."""
    column = COLUMNS[key]
    text = {Kind.COUNT: format_count, Kind.BYTES: format_bytes}.get(column.kind)
    return _Column(key, header or column.header, lambda row: column.get(row, view), text,
                   percent=column.kind is Kind.PERCENT)


def _module_columns(view: ReportView) -> list[_Column]:
    columns = [
        _Column("name", "module", lambda row: label(row.name), None),
        _Column("type", "type", lambda row: row.type, None),
        *(_core(view, key) for key in ("calls", "params", "macs")),
        _core(view, "flops", f"FLOPs ({view.convention})"),
        _core(view, "%flops"),
    ]
    if len(view.phases) > 1:
        columns += [_phase_column(view, phase) for phase in view.phases]
    columns += [_core(view, key)
                for key in ("self_flops", "bytes_read", "bytes_written", "output_bytes")]
    return columns + _section_columns(view)


def _phase_column(view: ReportView, phase: str) -> _Column:
    """FLOPs of one phase (a phase this version does not know is shown by its name)."""
    key = f"{phase}_flops"
    if key in COLUMNS:
        return _core(view, key)

    def get(row: ModuleRow) -> int:
        return row.phase_flops.get(phase, 0)

    return _Column(key, f"{phase} FLOPs", get, format_count)


def _section_columns(view: ReportView) -> list[_Column]:
    """One column per field of each section's per-module figures (``roofline.modules``)."""
    columns = []
    for section, table in view.module_figures.items():
        fields: list[str] = []
        for values in table.values():
            for key, value in values.items():
                if key not in _CORE_FIELDS and key not in fields and not _skipped(key, value) \
                        and isinstance(value, (int, float, str)):
                    fields.append(key)
        for key in fields:
            numeric = any(isinstance(v.get(key), (int, float)) and not isinstance(v.get(key), bool)
                          for v in table.values())

            def get(row: ModuleRow, k: str = key, t: Mapping[str, Mapping[str, Any]] = table,
                    n: bool = numeric) -> Any:
                value = (t.get(row.name) or {}).get(k)
                if n:
                    return value if isinstance(value, (int, float)) else None
                if value is None:
                    return ""
                return format_field(k, value) if isinstance(value, bool) else str(value)

            text = (lambda v, k=key: format_field(k, v)) if numeric else None
            columns.append(_Column(f"{section}.{key}", f"{section}: {_field_label(key)}", get,
                                   text))
    return columns


def _cell(column: _Column, row: ModuleRow, total_flops: int) -> str:
    value = column.get(row)
    key = _e(column.key)
    if column.percent:
        share = 100.0 * value / total_flops if total_flops else 0.0
        width = f"{min(max(share, 0.0), 100.0):.2f}%"    # a CSS length, never shown as text
        return (f'<td class="num pct" data-key="{key}" data-v="{value}">'
                f'<div class="bar" style="width:{width}"></div>'
                f'<span>{_e(format_percent(value, total_flops))}</span></td>')
    if column.text is not None:
        if value is None:
            return f'<td class="num" data-key="{key}" data-v="-1">-</td>'
        return f'<td class="num" data-key="{key}" data-v="{value}">{_e(column.text(value))}</td>'
    return f'<td data-key="{key}">{_e(value)}</td>'


def _name_cell(row: ModuleRow, has_children: bool, tree: bool) -> str:
    name = label(row.name)
    toggle = ('<button type="button" class="tog" aria-expanded="true" '
              f'aria-label="expand or collapse {_e(name)}">▾</button>'
              if has_children and tree else '<span class="leaf"></span>' if tree else "")
    mark = "" if row.ran else f' <span class="muted">{NOT_CALLED}</span>'
    return (f'<td class="name" data-key="name" data-s="{_e(name)}" style="--depth:{row.depth}">'
            f'{toggle}'
            f'<span class="label">{_e(name)}</span>{mark}</td>')


def _module_rows(view: ReportView, columns: Sequence[_Column],
                 max_depth: int | None = None, tree: bool = True) -> tuple[list[str], int]:
    parents = view.parents
    total_flops = view.total.flops
    rows, hidden = [], 0
    for i, row in enumerate(view.rows):
        if max_depth is not None and row.depth > max_depth:
            hidden += 1
            continue
        parent = "" if parents[i] is None else f"m{parents[i]}"
        cls = "" if row.ran else ' class="uncalled"'
        cells = [_name_cell(row, i not in view.leaves, tree)]
        cells += [_cell(c, row, total_flops) for c in columns[1:]]
        rows.append(f'<tr{cls} data-id="m{i}" data-parent="{parent}" '
                    f'data-depth="{row.depth}" data-name="{_e(row.name)}" '
                    f'data-type="{_e(row.type)}">{"".join(cells)}</tr>')
    return rows, hidden


def _thead(columns: Sequence[_Column]) -> str:
    heads = "".join(
        f'<th class="{"num" if c.numeric or c.percent else "text"}" data-key="{_e(c.key)}" '
        f'scope="col">{_e(c.header)}</th>' for c in columns)
    return f"<thead><tr>{heads}</tr></thead>"


def _modules_section(view: ReportView) -> str:
    columns = _module_columns(view)
    rows, _ = _module_rows(view, columns)
    controls = (
        '<div class="controls">'
        '<input id="fw-filter" type="search" placeholder="filter modules by name or type" '
        'aria-label="filter modules by name or type">'
        '<button type="button" id="fw-expand">expand all</button>'
        '<button type="button" id="fw-collapse">collapse all</button>'
        '<label>view <select id="fw-view"><option value="tree">tree</option>'
        '<option value="flat">flat</option></select></label>'
        '<span class="muted">click a header to sort (again: reverse, a third time: the '
        'model\'s order); the tree sorts siblings, the flat view all modules</span></div>')
    count = format_grouped(len(view.rows))
    return (f'<section id="modules"><h2>Modules <span class="muted">({count}; FLOPs: '
            f'{_e(view.convention)}; inclusive of children unless "self")</span></h2>'
            f'{controls}<div class="tablewrap"><table id="fw-modules" class="tree" '
            f'data-open-depth="{OPEN_DEPTH}">{_thead(columns)}<tbody>{"".join(rows)}</tbody>'
            f'</table></div></section>')


# -- charts ------------------------------------------------------------------------------------
def _bar_chart(chart_id: str, items: Sequence[tuple[str, int]], text: Callable[[int], str],
               colour: str, what: str) -> str:
    if not items:
        return f'<p id="{chart_id}" class="muted chart-empty">No module has {_e(what)}.</p>'
    width, label_w, value_w, row_h, pad = 980, 360, 120, 20, 8
    bar_w = width - label_w - value_w - 16
    height = pad * 2 + row_h * len(items)
    biggest = max(value for _, value in items) or 1
    parts = [(f'<svg id="{chart_id}" class="chart" viewBox="0 0 {width} {height}" '
              f'width="{width}" height="{height}" role="img" aria-label="{_e(what)} per module">')]
    for i, (name, value) in enumerate(items):
        y = pad + i * row_h
        bar = max(1.0, bar_w * value / biggest)
        label = text(value)
        parts.append(
            f'<g class="bar-row"><title>{_e(name)}: {_e(label)}</title>'
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end" class="lbl">'
            f'{_e(short_name(name, 46))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{bar:.1f}" height="{row_h - 6}" rx="2" '
            f'fill="{colour}"></rect>'
            f'<text x="{label_w + bar + 6:.1f}" y="{y + 14}" class="val">{_e(label)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)


def _charts_section(view: ReportView, top: int) -> str:
    charts = [
        ("flops", f"FLOPs ({view.convention})", [row.self_flops for row in view.rows],
         format_count, "#2f6fdb"),
        ("params", "parameters", view.own("params"), format_count, "#2e9e6b"),
        ("bytes", "bytes moved", view.own_bytes(), format_bytes, "#d9822b"),
    ]
    tabs, panels = [], []
    for index, (key, what, values, text, colour) in enumerate(charts):
        items = view.top(values, top)
        shown = sum(1 for v in values if v > 0)
        selected = "true" if index == 0 else "false"
        tabs.append(f'<button type="button" role="tab" id="fw-tab-{key}" '
                    f'data-target="fw-panel-{key}" aria-selected="{selected}">{_e(what)}</button>')
        note = (f"the {format_grouped(len(items))} modules with the most own {what} "
                f"(children excluded), of {format_grouped(shown)} with any")
        panels.append(f'<div class="panel" id="fw-panel-{key}" role="tabpanel">'
                      f'<p class="muted">{_e(note)}</p>'
                      f'{_bar_chart(f"fw-chart-{key}", items, text, colour, what)}</div>')
    return (f'<section id="charts"><h2>Per-layer costs</h2><div class="tabs" role="tablist">'
            f'{"".join(tabs)}</div>{"".join(panels)}</section>')


def _decades(low: float, high: float) -> tuple[int, int]:
    return math.floor(math.log10(low)), math.ceil(math.log10(high))


def _tick(value: float) -> str:
    return format_count(value, digits=0 if value >= 1 else 2)


def _roofline_points(view: ReportView,
                     device: RooflineDevice) -> list[tuple[str, float, float, bool]]:
    """``(name, intensity, FLOP/s, measured)`` per module with own FLOPs and bytes."""
    own_bytes = view.own_bytes()
    figures = view.module_figures
    timing, estimates = figures.get("timing", {}), figures.get("roofline", {})
    # the roofline times standard FLOPs; its own times only pair with a standard report
    standard = view.convention == "standard"
    points = []
    for i, row in enumerate(view.rows):
        flops, moved = row.self_flops, own_bytes[i]
        if flops <= 0 or moved <= 0:
            continue
        intensity = flops / moved
        measured = (timing.get(row.name) or {}).get("time_s") if i in view.leaves else None
        estimated = (estimates.get(row.name) or {}).get("self_time_s") if standard else None
        if isinstance(measured, (int, float)) and measured > 0:
            points.append((label(row.name), intensity, flops / measured, True))
        elif isinstance(estimated, (int, float)) and estimated > 0:
            points.append((label(row.name), intensity, flops / estimated, False))
        else:
            attainable = min(device.peak_flops_per_s, intensity * device.bandwidth_bytes_per_s)
            points.append((label(row.name), intensity, attainable, False))
    return points


def _roofline_svg(device: RooflineDevice, points: Sequence[tuple[str, float, float, bool]]) -> str:
    width, height, left, right, top, bottom = 980, 460, 90, 20, 20, 50
    ridge = device.ridge_flops_per_byte
    xs = [p[1] for p in points] + [ridge]
    ys = [p[2] for p in points] + [device.peak_flops_per_s]
    x0, x1 = _decades(min(xs) / 1.5, max(xs) * 1.5)
    y0, y1 = _decades(min(ys) / 1.5, device.peak_flops_per_s * 1.5)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    parts = [(f'<svg id="fw-roofline-chart" class="chart" viewBox="0 0 {width} {height}" '
              f'width="{width}" height="{height}" role="img" aria-label="roofline">'),
             f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame"></rect>']
    for k in range(x0, x1 + 1):
        x = px(10.0 ** k)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
                     f'class="grid"></line><text x="{x:.1f}" y="{top + plot_h + 16}" '
                     f'text-anchor="middle" class="tick">{_e(_tick(10.0 ** k))}</text>')
    for k in range(y0, y1 + 1):
        y = py(10.0 ** k)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" '
                     f'class="grid"></line><text x="{left - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end" class="tick">'
                     f'{_e(format_rate(10.0 ** k, "FLOP/s", digits=0))}</text>')
    x_low = max(10.0 ** x0, 10.0 ** y0 / device.bandwidth_bytes_per_s)   # roof inside the frame
    roof_low = x_low * device.bandwidth_bytes_per_s
    parts.append(f'<polyline class="roof" points="{px(x_low):.1f},{py(roof_low):.1f} '
                 f'{px(ridge):.1f},{py(device.peak_flops_per_s):.1f} '
                 f'{px(10.0 ** x1):.1f},{py(device.peak_flops_per_s):.1f}"></polyline>')
    for name, intensity, rate, measured in points:
        bound = "compute" if intensity > ridge else "memory"
        tip = (f"{name}: {format_count(intensity, unit='FLOP/B')}, "
               f"{format_rate(rate, 'FLOP/s')} ({'measured' if measured else 'estimated'}, "
               f"{bound}-bound)")
        parts.append(f'<circle cx="{px(intensity):.1f}" cy="{py(rate):.1f}" r="4" '
                     f'class="pt {bound}{" measured" if measured else ""}">'
                     f'<title>{_e(tip)}</title></circle>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" '
                 'class="axis">arithmetic intensity (FLOPs per byte moved, log scale)</text>'
                 f'<text x="14" y="{top + plot_h / 2:.0f}" text-anchor="middle" class="axis" '
                 f'transform="rotate(-90 14 {top + plot_h / 2:.0f})">FLOP/s (log scale)</text>'
                 '</svg>')
    return "".join(parts)


def _roofline_section(view: ReportView) -> str:
    device = view.roofline_device
    if device is None:
        return ""
    points = _roofline_points(view, device)
    measured = sum(1 for p in points if p[3])
    note = (f"{device.name}: peak {format_rate(device.peak_flops_per_s, 'FLOP/s')}, bandwidth "
            f"{format_rate(device.bandwidth_bytes_per_s, 'B/s')}, ridge at "
            f"{format_count(device.ridge_flops_per_byte, unit='FLOP/B')}. One point per module "
            f"with own FLOPs and bytes ({format_grouped(len(points))}): "
            + ("measured FLOP/s where the report has measured module times, " if measured else "")
            + "otherwise its own FLOPs over its estimated own time: on the roof for a module "
              "of one kind of op, below it for a mix (compute-bound in orange, memory-bound in "
              "blue).")
    chart = (_roofline_svg(device, points) if points
             else '<p class="muted">No module has both FLOPs and bytes moved.</p>')
    return (f'<section id="roofline"><h2>Roofline</h2><p class="muted">{_e(note)}</p>{chart}'
            "</section>")


# -- tables ------------------------------------------------------------------------------------
def _simple_table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[tuple[str, Any]]],
                  numeric: Sequence[bool], sortable: bool = False) -> str:
    """Rows of ``(text, raw value or None)`` cells; raw values are what sorting compares."""
    heads = "".join(f'<th class="{"num" if n else "text"}" data-key="c{i}" scope="col">'
                    f'{_e(h)}</th>' for i, (h, n) in enumerate(zip(headers, numeric)))
    body = []
    for row in rows:
        cells = []
        for i, ((text, raw), is_number) in enumerate(zip(row, numeric)):
            attrs = f' data-key="c{i}"' + (f' data-v="{raw}"' if raw is not None else "")
            cells.append(f'<td class="{"num" if is_number else "text"}"{attrs}>{_e(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    cls = ' class="sortable-table"' if sortable else ""
    return (f'<table id="{table_id}"{cls}><thead><tr>{heads}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _phases_section(view: ReportView) -> str:
    if not view.phases:
        return ""
    whole = view.total.flops
    rows = [[(name, None), (format_count(t.macs), t.macs), (format_count(t.flops), t.flops),
             (format_percent(t.flops, whole), t.flops),
             (format_bytes(t.bytes_read), t.bytes_read),
             (format_bytes(t.bytes_written), t.bytes_written)]
            for name, t in view.phases.items()]
    table = _simple_table("fw-phases", ("phase", "MACs", "FLOPs", "% FLOPs", "read (B)",
                                        "written (B)"), rows, (False,) + (True,) * 5)
    return f'<section id="phases"><h2>Phases</h2>{table}</section>'


def _ops_section(view: ReportView) -> str:
    ops = view.ops()
    whole = view.total.flops
    rows = [[(op.op, None), (op.status, None), (format_count(op.calls), op.calls),
             (format_count(op.macs), op.macs), (format_count(op.flops), op.flops),
             (format_percent(op.flops, whole), op.flops),
             (format_bytes(op.bytes_read), op.bytes_read),
             (format_bytes(op.bytes_written), op.bytes_written)]
            for op in ops]
    table = _simple_table("fw-ops", ("op", "status", "calls", "MACs", "FLOPs", "% FLOPs",
                                     "read (B)", "written (B)"),
                          rows, (False, False) + (True,) * 6, sortable=True)
    return (f'<section id="ops"><details><summary><h2>Operators '
            f'<span class="muted">({format_grouped(len(ops))}; click to show)</span></h2>'
            f'</summary><div class="tablewrap">{table}</div></details></section>')


def _unsupported_section(view: ReportView) -> str:
    unsupported = view.unsupported
    parts = ['<section id="unsupported"><h2>Unsupported ops</h2>']
    if unsupported:
        rows = [[(op, None), (format_count(calls), calls)] for op, calls in unsupported.items()]
        parts.append('<p class="warn">These ops had no cost formula: they add no MACs or FLOPs '
                     'to any total here (their bytes are counted). Register a formula '
                     '(flopwise.formulas) or profile with --strict to make them an error.</p>')
        parts.append(_simple_table("fw-unsupported", ("unsupported op", "calls"), rows,
                                   (False, True)))
    else:
        parts.append('<p id="fw-unsupported-none">None: every op had a formula or was declared '
                     'cost-free.</p>')
    decomposed = view.decomposed
    if decomposed:
        listed = ", ".join(f"{op} ×{format_count(n)}" for op, n in sorted(decomposed.items()))
        parts.append(f'<p class="muted">Counted through their decompositions: {_e(listed)}</p>')
    for op, error in sorted(view.formula_errors.items()):
        parts.append(f'<p class="warn">Formula error, counted as unsupported: {_e(op)}: '
                     f'{_e(error)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _key_values(table_id: str, pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th scope=\"row\">{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in pairs)
    return f'<table id="{table_id}" class="kv"><tbody>{rows}</tbody></table>'


def _convention_section(view: ReportView) -> str:
    pairs = [(key.replace("_", " "), format_field(key, value) if not isinstance(value, str)
              else value) for key, value in view.convention_manifest.items()]
    return (f'<section id="convention"><h2>Convention <span class="muted">'
            f'({_e(view.convention)})</span></h2>'
            f'{_key_values("fw-convention", pairs)}</section>')


def _flatten(section: Mapping[str, Any], parent: str = "") -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in section.items():
        if key in ("modules", "ops") or _skipped(key, value):
            continue
        label = f"{parent}.{key}" if parent else key
        if isinstance(value, Mapping) and not parent:
            pairs += _flatten(value, key)
        elif isinstance(value, (bool, int, float, str)):
            pairs.append((label, format_field(key, value, unit_of=parent)))
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            pairs.append((label, "; ".join(value)))
        elif isinstance(value, list) and value and all(isinstance(v, int) for v in value):
            pairs.append((label, ", ".join(format_field(key, v) for v in value)))
    return pairs


def _extras_section(view: ReportView) -> str:
    parts = []
    for name, section in view.section_data.items():
        pairs = _flatten(section)
        if pairs:
            parts.append(f'<h3>{_e(name)}</h3>{_key_values(f"fw-extra-{_e(name)}", pairs)}')
    if not parts:
        return ""
    return f'<section id="extras"><h2>More figures</h2>{"".join(parts)}</section>'


def _run_section(view: ReportView) -> str:
    pairs = [(key, ", ".join("[" + ", ".join(map(str, s)) + "]" for s in value)
              if key == "inputs" else "-" if value is None else format_field(key, value))
             for key, value in view.run_data.items() if not _skipped(key, value)]
    pairs.append(("schema", str(view.schema)))
    return f'<section id="run"><h2>Run</h2>{_key_values("fw-run", pairs)}</section>'


# -- the page ----------------------------------------------------------------------------------
_ASSETS = resources.files("flopwise.render") / "assets"


def _asset(name: str) -> str:
    """A style sheet or script of the page, from the package's ``render/assets`` folder
    (inlined into the page, which stays one offline file)."""
    return _ASSETS.joinpath(name).read_text(encoding="utf-8")


def render_html(report: Viewable, *, title: str | None = None, top: int = CHART_TOP) -> str:
    """The report as one self-contained, offline HTML page (see the module's docstring).

    ``report`` is a :class:`~flopwise.render.view.ReportView` or what one is built from (a
    :class:`~flopwise.Report`, its JSON form, a saved file's path); ``top`` is how many modules
    each bar chart shows. Raises :class:`~flopwise.UsageError` for a dict that is not a report
    of schema 1 or 2.

    >>> import torch, flopwise
    >>> report = flopwise.profile(torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU()),
    ...                           torch.randn(4, 8))
    >>> page = render_html(report)
    >>> page.count('<tr data-id="m'), "FLOPs (standard)" in page
    (3, True)
    """
    view = as_view(report)
    heading = title or f"flopwise: {view.run.model}"
    version = view.run.flopwise_version
    body = "".join([
        f"<header><h1>{_e(heading)}</h1><p class=\"run\">{_e(run_line(view))}</p></header>",
        _summary(view),
        _modules_section(view),
        _charts_section(view, top),
        _roofline_section(view),
        _phases_section(view),
        _ops_section(view),
        _unsupported_section(view),
        _convention_section(view),
        _extras_section(view),
        _run_section(view),
        (f"<footer><p>{_e(_LEGEND)}</p><p>written by flopwise {_e(version)}; this file is "
         "self-contained and loads nothing from the network.</p></footer>"),
    ])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(heading)}</title><style>{_asset('report.css')}</style></head>"
            f"<body><main>{body}</main><script>{_asset('report.js')}</script></body></html>\n")


def render_html_table(report: Viewable, max_depth: int | None = OPEN_DEPTH) -> str:
    """A static HTML fragment (no script): the totals and the module table to ``max_depth``.

    This is what ``Report._repr_html_`` shows in Jupyter; ``report.to_html()`` writes the
    interactive page.

    >>> import torch, flopwise
    >>> fragment = render_html_table(flopwise.profile(torch.nn.Linear(4, 3), torch.randn(2, 4)))
    >>> fragment.startswith('<div class="flopwise-nb">'), "<script" in fragment
    (True, False)
    """
    view = as_view(report)
    total = view.total
    columns = [c for c in _module_columns(view) if not c.key.count(".")]
    rows, hidden = _module_rows(view, columns, max_depth, tree=False)
    totals = (f"params {format_count(total.params)} · MACs {format_count(total.macs)} · "
              f"FLOPs ({view.convention}) {format_count(total.flops)} · bytes moved "
              f"{format_bytes(total.bytes_moved)}")
    more = (f'<p class="muted">{format_grouped(hidden)} deeper modules not shown '
            f'(depth &gt; {max_depth}); report.to_html() writes the interactive report with '
            f"all of them.</p>" if hidden else "")
    unsupported = view.unsupported
    warn = (f'<p><b>unsupported ops (not counted):</b> '
            f'{_e(", ".join(f"{op} ×{format_count(n)}" for op, n in unsupported.items()))}</p>'
            if unsupported else "")
    style = _asset("notebook.css").replace("\n", "")       # one line in the notebook's cell
    return (f'<div class="flopwise-nb"><style>{style}</style>'
            f"<p><b>flopwise</b> · {_e(run_line(view))}</p><p>{_e(totals)}</p>"
            f"<table>{_thead(columns)}<tbody>{''.join(rows)}</tbody></table>{more}{warn}"
            f'<p class="muted">{_e(_LEGEND)}</p></div>')
