"""The parts of a report every renderer shows around its module table, as plain strings.

Each function reads a :class:`~flopwise.render.view.ReportView` and returns text pieces
(label/value pairs, rows, sentences); the text, rich, tree and Markdown renderers only lay them
out, so all of them say the same thing in the same words.

A report section (:mod:`flopwise.schema`) shows up in all of them by having two methods:
``title() -> str`` and ``pairs() -> list[tuple[str, str]]`` (label/value text, empty to show
nothing); :func:`extra_sections` finds them. ``memory``, ``roofline`` and ``timing`` are laid
out here.

>>> import torch, flopwise
>>> from flopwise.render.view import ReportView
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
>>> view = ReportView.of(flopwise.profile(model, torch.randn(4, 8)))
>>> dict(totals(view))["FLOPs (standard)"]
'1.34 K (1,344)'
>>> run_line(view)
'Sequential · real on cpu · inputs [4, 8] · forward'
"""

from __future__ import annotations

from flopwise.render.units import (
    format_bytes,
    format_count,
    format_count_exact,
    format_grouped,
    format_percent,
    format_rate,
    format_seconds,
)
from flopwise.render.view import ReportView, by_dtype, run_line

__all__ = [
    "PREFIX_LEGEND",
    "PHASE_HEADERS",
    "OP_HEADERS",
    "UNSUPPORTED_HEADERS",
    "STRICT_HINT",
    "run_line",
    "totals",
    "phase_rows",
    "op_rows",
    "unsupported_rows",
    "notes",
    "convention_line",
    "memory_pairs",
    "estimate_pairs",
    "timing_pairs",
    "extra_sections",
]

PREFIX_LEGEND = (
    "counts: K = 10³, M = 10⁶, G = 10⁹, T = 10¹²; bytes (B): KiB = 2¹⁰, MiB = 2²⁰, GiB = 2³⁰"
)
PHASE_HEADERS = ("phase", "MACs", "FLOPs", "% FLOPs", "read (B)", "written (B)")
OP_HEADERS = ("op", "status", "calls", "MACs", "FLOPs", "% FLOPs", "read (B)", "written (B)")
UNSUPPORTED_HEADERS = ("unsupported op", "calls")
STRICT_HINT = (
    "ops without a cost formula add no MACs or FLOPs to any total above (their bytes are "
    "counted); register a formula (flopwise.formulas) or run with --strict (strict=True) to "
    "make them an error"
)


def totals(view: ReportView) -> list[tuple[str, str]]:
    """Label/value pairs: parameters, their bytes, MACs, FLOPs (convention named), bytes moved."""
    total = view.total
    pairs = [(
        "params",
        f"{format_count_exact(total.params)}, {format_count(total.trainable_params)} trainable",
    )]
    if view.param_bytes:
        pairs.append(("param bytes", by_dtype(view.param_bytes)))
    if view.buffer_bytes:
        pairs.append(("buffer bytes", by_dtype(view.buffer_bytes)))
    pairs += [
        ("MACs", format_count_exact(total.macs)),
        (f"FLOPs ({view.convention})", format_count_exact(total.flops)),
        ("bytes read", format_bytes(total.bytes_read)),
        ("bytes written", format_bytes(total.bytes_written)),
    ]
    return pairs


def phase_rows(view: ReportView) -> list[tuple[str, ...]]:
    """One row per phase that ran (see :data:`PHASE_HEADERS`)."""
    whole = view.total.flops
    return [(name, format_count(t.macs), format_count(t.flops), format_percent(t.flops, whole),
             format_bytes(t.bytes_read), format_bytes(t.bytes_written))
            for name, t in view.phases.items()]


def op_rows(view: ReportView) -> list[tuple[str, ...]]:
    """One row per operator overload, largest FLOPs first (see :data:`OP_HEADERS`)."""
    whole = view.total.flops
    return [(row.op, row.status, format_count(row.calls), format_count(row.macs),
             format_count(row.flops), format_percent(row.flops, whole),
             format_bytes(row.bytes_read), format_bytes(row.bytes_written))
            for row in view.ops()]


def unsupported_rows(view: ReportView) -> list[tuple[str, str]]:
    """``(op, calls)`` for every op that had no formula (see :data:`UNSUPPORTED_HEADERS`)."""
    return [(op, format_count(calls)) for op, calls in view.unsupported.items()]


def convention_line(view: ReportView) -> str:
    """One line naming the convention and what it counts."""
    return f"convention {view.convention}: {view.convention_summary}"


def notes(view: ReportView) -> list[str]:
    """Sentences under the tables: uncalled modules, decompositions, formula errors, units."""
    lines = []
    uncalled = [row for row in view.rows if row.name not in view.ran]
    if uncalled:
        names = [row.name for row in uncalled]
        params = sum(row.params for row in uncalled    # outermost uncalled modules only
                     if not any(row.name.startswith(name + ".") for name in names))
        lines.append(f"{len(uncalled)} module(s) never called, marked (not called); "
                     f"they hold {format_grouped(params)} params")
    if view.decomposed:
        parts = ", ".join(f"{op} ×{count}" for op, count in sorted(view.decomposed.items()))
        lines.append(f"counted through their decompositions: {parts}")
    for op, error in sorted(view.formula_errors.items()):
        lines.append(f"formula error, counted as unsupported: {op}: {error}")
    lines.append(convention_line(view))
    lines.append(PREFIX_LEGEND)
    return lines


def memory_pairs(view: ReportView) -> list[tuple[str, str]]:
    """Label/value pairs of the run's memory (empty without ``memory=True``)."""
    memory = view.memory
    if memory is None:
        return []
    pairs = [("parameters", format_bytes(memory.params_bytes))]
    if memory.buffers_bytes:
        pairs.append(("buffers", format_bytes(memory.buffers_bytes)))
    pairs.append(("inputs", format_bytes(memory.inputs_bytes)))
    if memory.training:
        pairs.append(("gradients", format_bytes(memory.grads_bytes)))
        if memory.optimizer_bytes:
            pairs.append((f"optimizer state ({memory.state.optimizer})",
                          format_bytes(memory.optimizer_bytes)))
    pairs.append(("activations, peak (inference)", format_bytes(memory.activation_peak_bytes)))
    if memory.training or memory.saved_for_backward_bytes:
        saved = (f"{format_bytes(memory.saved_for_backward_bytes)} "
                 f"({format_grouped(memory.saved_tensors)} tensors)")
        pairs.append(("saved for backward", saved))
    if memory.training:
        live = (f"{format_bytes(memory.forward_peak_bytes)} / "
                f"{format_bytes(memory.backward_peak_bytes)}")
        pairs.append(("live peak, forward / backward", live))
        parts = "params + buffers + inputs + optimizer + live peak"
    else:
        parts = "params + buffers + inputs + activations"
    pairs.append(("peak", f"{format_bytes(memory.peak_bytes)} ({parts})"))
    fit = memory.fit
    if fit is not None:
        fits = (f"{format_grouped(fit.batch)} ({format_bytes(fit.bytes_per_sample)} per "
                f"sample + {format_bytes(fit.fixed_bytes)}, of {format_bytes(fit.usable_bytes)})")
        pairs.append((f"largest batch on {fit.device}", fits))
    return pairs


def estimate_pairs(view: ReportView) -> list[tuple[str, str]]:
    """Label/value pairs of the roofline estimate (empty without ``--hardware``)."""
    estimate = view.roofline
    if estimate is None:
        return []
    peak = (format_rate(estimate.peak_flops_per_s, "FLOP/s")
            if estimate.peak_flops_per_s is not None else "no peak")
    device = (f"{estimate.hardware_name}: {estimate.dtype} {peak}, "
              f"{format_rate(estimate.bandwidth_bytes_per_s, 'B/s')}")
    pairs = [("device", device), ("estimated latency", format_seconds(estimate.time_s))]
    if len(estimate.phase_time_s) > 1:
        pairs.append(("by phase", ", ".join(f"{phase} {format_seconds(seconds)}"
                                            for phase, seconds in estimate.phase_time_s.items())))
    if estimate.tokens_per_s is not None:
        rate = (f"{format_count(estimate.tokens_per_s)} tokens/s "
                f"({format_count(estimate.samples_per_s or 0)} samples/s)")
        pairs.append(("throughput", rate))
    elif estimate.samples_per_s is not None:
        pairs.append(("throughput", f"{format_count(estimate.samples_per_s)} samples/s"))
    compute_share = format_percent(estimate.compute_bound_s, estimate.time_s)
    bound = f"{estimate.bound.value} ({compute_share} of the time in compute-bound ops)"
    pairs.append(("bound", bound))
    if estimate.compute_efficiency != 1.0 or estimate.memory_efficiency != 1.0:
        efficiency = (f"compute {estimate.compute_efficiency:g}, "
                      f"memory {estimate.memory_efficiency:g}")
        pairs.append(("efficiency", efficiency))
    if estimate.untimed_flops:
        listed = ", ".join(f"{format_count(flops)} {dtype}"
                           for dtype, flops in estimate.untimed_flops.items())
        pairs.append(("no peak for", f"{listed} FLOPs (timed by their bytes only)"))
    return pairs


def timing_pairs(view: ReportView) -> list[tuple[str, str]]:
    """Label/value pairs of the measured latency (empty without ``--time``)."""
    timing = view.timing
    if timing is None:
        return []
    step = "forward + backward" if timing.backward else "forward"
    how = (f"{format_seconds(timing.time_s)} ({step}; median of {timing.repeats} after "
           f"{timing.warmup} warm-up, {timing.device}, {timing.method})")
    pairs = [("measured latency", how)]
    if timing.samples_per_s is not None:
        pairs.append(("throughput", f"{format_count(timing.samples_per_s)} samples/s"))
    if timing.flops_per_s is not None:
        achieved = format_rate(timing.flops_per_s, "FLOP/s")
        if timing.peak_percent is not None:
            achieved += f" ({timing.peak_percent:.1f}% of the {timing.hardware} peak)"
        pairs.append(("achieved", achieved))
    modules = (f"forward {format_seconds(timing.hooked_forward_s)} with module hooks; leaf "
               f"modules add up to {100 * timing.leaf_fraction:.1f}% of it")
    pairs.append(("per module", modules))
    if timing.backward_s is not None:
        pairs.append(("backward", f"{format_seconds(timing.backward_s)} (as a whole)"))
    return pairs


def extra_sections(view: ReportView) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, pairs) of the sections the report has: memory, roofline and measured time, then
    every other section with ``title()`` and ``pairs()`` methods, in the report's order."""
    memory = view.memory
    estimate = view.roofline
    device = estimate.hardware_id if estimate is not None else ""
    found = [
        ("Memory (training step)" if memory is not None and memory.training else "Memory",
         memory_pairs(view)),
        (f"Roofline estimate on {device} (FLOPs: standard)", estimate_pairs(view)),
        ("Measured", timing_pairs(view)),
    ]
    found += [(section.title(), section.pairs()) for key, section in view.sections.items()
              if key not in _LAID_OUT_HERE and hasattr(section, "pairs")
              and hasattr(section, "title")]
    return [(title, pairs) for title, pairs in found if pairs]


_LAID_OUT_HERE = frozenset({"memory", "roofline", "timing"})
