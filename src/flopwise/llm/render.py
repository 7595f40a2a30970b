"""Plans as text: rich tables and Markdown, built from the same rows. Nothing here prints.

>>> from flopwise.llm.plan import plan
>>> text = render_markdown(plan("gpt2", hardware="a100-80gb"))
>>> text.splitlines()[0]
'# gpt2'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group
from rich.table import Table
from rich.text import Text

from flopwise.llm.plan import SCHEMA, LLMPlan
from flopwise.render.units import (
    format_bytes,
    format_count,
    format_count_exact,
    format_rate,
    format_seconds,
)

__all__ = ["Section", "plan_sections", "sweep_section", "render_json", "render_table",
           "render_markdown"]


@dataclass(frozen=True)
class Section:
    """A titled table: a header row and rows of already formatted cells."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    left_columns: tuple[int, ...] = (0,)


def _flops(value: float) -> str:
    return format_count(value, unit="FLOP")


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _fits(per_gpu: int, capacity: int) -> str:
    verdict = "yes" if per_gpu <= capacity else "no"
    return f"{verdict} ({100 * per_gpu / capacity:.0f}% of {format_bytes(capacity)})"


def _params_section(p: LLMPlan) -> Section:
    c = p.params
    rows = [("total", format_count_exact(c.total))]
    if c.active != c.total:
        rows.append(("active per token", format_count_exact(c.active)))
    rows += [
        ("embedding (vocabulary, positions" + (", untied head)" if c.lm_head else ")"), format_count_exact(c.embedding)),
        ("non-embedding", format_count_exact(c.non_embedding)),
        ("per block", format_count_exact(c.per_block)),
        ("  attention", format_count_exact(c.attention_per_block)),
        ("  MLP" + (" (all experts)" if p.spec.is_moe else ""), format_count_exact(c.mlp_per_block)),
        ("  norms", format_count_exact(c.norms_per_block)),
    ]
    return Section("Parameters", ("part", "parameters"), tuple(rows))


def _flops_section(p: LLMPlan) -> Section:
    f, s = p.flops, p.settings
    fwd = f.forward
    recompute = f"recompute {s.recompute}"
    rows = [
        (f"forward per token (context {s.seq})", _flops(f.forward_per_token)),
        ("  attention projections", _flops(fwd.part_per_token("projections"))),
        (f"  attention scores (QKᵀ, AV; square {fwd.attention_square})", _flops(fwd.part_per_token("attention"))),
        ("  MLP", _flops(fwd.part_per_token("mlp"))),
        ("  LM head", _flops(fwd.part_per_token("lm_head"))),
        ("forward per sequence", _flops(fwd.total)),
        ("training per token (3 × forward)", _flops(f.training_per_token)),
        (f"training per step (batch {s.batch} × dp {s.dp})", _flops(f.training_per_step)),
        (f"hardware per step ({recompute})", _flops(f.hardware_per_step)),
        (f"training run ({format_count(s.tokens)} tokens)", _flops(f.training_total)),
    ]
    if f.decode_per_token is not None:
        rows.append((f"decode per token (context {s.seq})", _flops(f.decode_per_token)))
    return Section("FLOPs (matmul: 2 per MAC)", ("quantity", "FLOPs"), tuple(rows))


def _approximations_section(p: LLMPlan) -> Section:
    rows = tuple(
        (row.name, row.formula, _flops(row.per_token), f"{row.ratio:.3f}")
        for row in p.flops.approximations
    )
    return Section(
        "Training FLOPs per token: shortcuts vs flopwise",
        ("name", "formula", "per token", "÷ flopwise"),
        rows,
        left_columns=(0, 1),
    )


def _weights_section(p: LLMPlan) -> Section:
    sizes = p.memory.weights_by_dtype
    return Section(
        "Weights by dtype (whole model)",
        tuple(sizes),
        (tuple(format_bytes(size) for size in sizes.values()),),
    )


def _memory_section(p: LLMPlan) -> Section:
    m, s = p.memory, p.settings
    state = m.train_state
    none = "-"
    sp = ", sp" if s.sequence_parallel else ""
    rows = (
        ("weights", f"{format_bytes(state.weights)} ({s.training_dtype})",
         f"{format_bytes(m.infer_weights_per_gpu)} ({s.dtype})"),
        ("gradients", format_bytes(state.gradients), none),
        (f"Adam state (ZeRO-{s.zero} over dp {s.dp})", format_bytes(state.optimizer), none),
        (f"activations (recompute {s.recompute}{sp})", format_bytes(m.activations.total), none),
        (f"KV cache ({s.batch} × {s.seq} tokens, {s.kv_dtype})", none, format_bytes(m.infer_kv_cache_per_gpu)),
        ("total", format_bytes(m.train_per_gpu), format_bytes(m.infer_per_gpu)),
        (f"fits {s.hardware}", _fits(m.train_per_gpu, m.capacity_bytes), _fits(m.infer_per_gpu, m.capacity_bytes)),
    )
    title = f"Memory per GPU (tp {s.tp} · pp {s.pp} · dp {s.dp}, micro-batch {s.batch})"
    return Section(title, ("part", "train", "infer"), rows)


def _time_section(p: LLMPlan) -> Section:
    t, s = p.time, p.settings
    run = t.training
    rate = f"MFU {_percent(run.mfu)}, {format_rate(run.achieved_flops_per_s, 'FLOP/s')} achieved per GPU"
    rows = [
        (f"training {format_count(s.tokens)} tokens on {run.gpus} × {t.hardware}", format_seconds(run.seconds)),
        ("  at", rate),
        ("  GPU-hours", f"{run.gpu_hours:,.0f}"),
        ("  PF-days (model FLOPs)", f"{run.pf_days:,.2f}"),
        ("  Megatron 8·T·P/(n·X)", format_seconds(run.megatron_estimate_s)),
        (
            f"prefill {s.batch} × {s.seq} tokens on tp {t.inference_gpus} (roofline)",
            f"{format_seconds(t.prefill.seconds)} ({t.prefill.bound}-bound)",
        ),
    ]
    if t.decode is not None and t.decode_tokens_per_s is not None:
        rows += [
            (f"decode step at context {s.seq} (roofline)", f"{format_seconds(t.decode.seconds)} ({t.decode.bound}-bound)"),
            ("decode throughput", format_rate(t.decode_tokens_per_s, "tokens/s")),
        ]
    return Section("Time", ("quantity", "value"), tuple(rows))


def plan_sections(p: LLMPlan) -> tuple[Section, ...]:
    """The plan's sections, in reading order."""
    return (
        _params_section(p),
        _flops_section(p),
        _approximations_section(p),
        _weights_section(p),
        _memory_section(p),
        _time_section(p),
    )


def sweep_section(plans: Sequence[LLMPlan], key: str) -> Section:
    """One row per plan of a sweep over ``key`` (``seq`` or ``batch``)."""
    mode = plans[0].settings.mode if plans else "train"
    rows = []
    for p in plans:
        tokens_per_s = p.time.decode_tokens_per_s
        rows.append((
            str(getattr(p.settings, key)),
            _flops(p.flops.forward_per_token),
            _flops(p.flops.training_per_step),
            format_bytes(p.memory.activations.total),
            format_bytes(p.memory.kv_cache_bytes),
            format_bytes(p.memory.per_gpu),
            "yes" if p.memory.fits else "no",
            format_seconds(p.time.training.seconds),
            "-" if tokens_per_s is None else format_count(tokens_per_s),
        ))
    header = (
        key, "fwd/token", "train/step", "activations", "KV cache",
        f"{mode}/GPU", "fits", "train time", "decode tok/s",
    )
    return Section(f"Sweep over {key}", header, tuple(rows))


def _title(p: LLMPlan) -> str:
    return f"{p.spec.name}: {p.spec.describe()}"


def _settings_line(p: LLMPlan, sweep_key: str | None = None) -> str:
    s = p.settings
    seq = "seq swept" if sweep_key == "seq" else f"seq {s.seq}"
    batch = "batch swept" if sweep_key == "batch" else f"batch {s.batch}"
    return (
        f"{seq} · {batch} · {s.dtype} · {s.gpus} × {s.hardware} "
        f"(tp {s.tp}, pp {s.pp}, dp {s.dp}) · mode {s.mode}"
    )


def _rich_table(section: Section) -> Table:
    table = Table(title=section.title, title_justify="left", show_edge=False, pad_edge=False)
    for index, name in enumerate(section.header):
        table.add_column(name, justify="left" if index in section.left_columns else "right",
                         overflow="fold", no_wrap=index == 0)
    for row in section.rows:
        table.add_row(*row)
    return table


def render_table(plans: Sequence[LLMPlan], sweep_key: str | None = None) -> Group:
    """A rich renderable: the whole plan, or the sweep table when ``sweep_key`` is given."""
    first = plans[0]
    parts: list[Text | Table] = [
        Text(_title(first), style="bold"),
        Text(f"source: {first.spec.source}"),
        Text(_settings_line(first, sweep_key)),
    ]
    if sweep_key is not None:
        parts.append(_rich_table(sweep_section(plans, sweep_key)))
    else:
        parts += [_rich_table(section) for section in plan_sections(first)]
    parts += [Text(f"note: {note}", style="dim") for note in first.notes]
    return Group(*parts)


def _markdown_table(section: Section) -> list[str]:
    lines = [f"## {section.title}", "", "| " + " | ".join(section.header) + " |"]
    aligns = ["---" if index in section.left_columns else "---:" for index in range(len(section.header))]
    lines.append("|" + "|".join(aligns) + "|")
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in section.rows]
    return lines + [""]


def render_markdown(plan_or_plans: LLMPlan | Sequence[LLMPlan], sweep_key: str | None = None) -> str:
    """The plan (or a sweep) as Markdown: a heading, one table per section, the notes."""
    plans = [plan_or_plans] if isinstance(plan_or_plans, LLMPlan) else list(plan_or_plans)
    first = plans[0]
    lines = [
        f"# {first.spec.name}", "", first.spec.describe(), "",
        f"Source: {first.spec.source}", "", _settings_line(first, sweep_key), "",
    ]
    sections = (sweep_section(plans, sweep_key),) if sweep_key else plan_sections(first)
    for section in sections:
        lines += _markdown_table(section)
    lines += [f"- {note}" for note in first.notes]
    return "\n".join(lines).rstrip() + "\n"


def render_json(plans: Sequence[LLMPlan], sweep_key: str | None = None) -> str:
    """One plan's JSON form, or a sweep's: ``{"schema", "sweep", "rows": [plan, ...]}``."""
    if sweep_key is None:
        document = plans[0].to_dict()
    else:
        document = {"schema": SCHEMA, "sweep": sweep_key, "rows": [p.to_dict() for p in plans]}
    return json.dumps(document, indent=2)
