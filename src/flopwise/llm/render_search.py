"""Plan-search results as text: rich tables and Markdown from the same rows. Nothing here prints.

>>> from flopwise.llm.config import load_spec
>>> from flopwise.llm.search import search
>>> result = search(load_spec("llama-2-7b"), gpus=16, hardware="a100-80gb", seq=4096)
>>> render_search_markdown(result, top=3).splitlines()[0]
'# Parallel plans: llama-2-7b on 16 × a100-80gb'
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from flopwise.llm.parallel import StepTime
from flopwise.llm.render import Section, _markdown_table, _rich_table
from flopwise.llm.search import SearchResult
from flopwise.render.units import format_bytes, format_count, format_rate, format_seconds

__all__ = ["search_sections", "render_search_table", "render_search_markdown", "record_lines",
           "FittedSection"]


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _zero(step: StepTime) -> str:
    return "FSDP" if step.layout.zero == 3 else f"ZeRO-{step.layout.zero}"


def _ranking(result: SearchResult, top: int) -> Section:
    rows = []
    for rank, step in enumerate(result.ranked[:top], start=1):
        layout = step.layout
        rows.append((
            str(rank), f"{layout.tp}·{layout.pp}·{layout.dp}", _zero(step), layout.recompute,
            f"{layout.micro_batch}×{layout.micro_batches}", format_seconds(step.step_s),
            _percent(step.mfu), format_count(step.tokens_per_s),
            f"{format_seconds(step.exposed_comm_s)} {_percent(step.exposed_comm_s / step.step_s)}",
            _percent(step.bubble), format_bytes(step.memory.total),
            format_bytes(step.memory.headroom_bytes),
        ))
    header = ("#", "tp·pp·dp", "sharding", "recompute", "b×m", "step", "MFU", "tokens/s",
              "exposed comm", "bubble", "memory/GPU", "headroom")
    return Section("Fastest layouts that fit (bubble = (p−1)/m of the ideal time)", header,
                   tuple(rows), left_columns=(0, 1, 2, 3, 4))


def _breakdown(step: StepTime) -> Section:
    rows = (
        ("compute (hardware FLOPs / (peak · efficiency))", format_seconds(step.compute_s)),
        ("tensor-parallel comm, exposed", format_seconds(step.tp_exposed_s)),
        (f"pipeline bubble ({_percent(step.bubble)} of the ideal time)", format_seconds(step.bubble_s)),
        ("pipeline send/recv, exposed", format_seconds(step.pp_exposed_s)),
        (f"data-parallel comm ({format_seconds(step.dp_comm_s)} in all), exposed",
         format_seconds(step.dp_exposed_s)),
        ("step", format_seconds(step.step_s)),
        ("MFU (model FLOPs / (step · GPUs · peak))", _percent(step.mfu)),
        ("tokens/s (whole cluster)", format_count(step.tokens_per_s)),
        ("model FLOPs per step", format_count(step.model_flops, unit="FLOP")),
    )
    return Section(f"Step time: {step.layout.describe()}", ("part", "seconds"), rows)


def _communication(step: StepTime) -> Section:
    rows = tuple(
        (volume.dimension, volume.collective.value.replace("_", "-"), volume.purpose,
         str(volume.time.ranks), volume.time.algorithm, format_bytes(volume.payload_bytes),
         str(volume.count), format_bytes(volume.bytes_sent), format_seconds(volume.seconds))
        for volume in step.comm
    )
    header = ("group", "collective", "of", "ranks", "algorithm", "payload", "calls/step",
              "sent/step", "time/step")
    return Section("Communication of the busiest rank, per step", header, rows,
                   left_columns=(0, 1, 2, 4))


def _memory(step: StepTime) -> Section:
    memory = step.memory
    rows = (
        ("weights (sharded)", format_bytes(memory.weights)),
        ("gradients", format_bytes(memory.gradients)),
        ("optimizer state", format_bytes(memory.optimizer)),
        ("activations (1F1B: first stage)", format_bytes(memory.activations)),
        ("communication buffers", format_bytes(memory.comm_buffers)),
        ("total", format_bytes(memory.total)),
        ("capacity", format_bytes(memory.capacity)),
        ("headroom", format_bytes(memory.headroom_bytes)),
    )
    return Section("Memory per GPU", ("part", "bytes"), rows)


def search_sections(result: SearchResult, top: int = 5) -> tuple[Section, ...]:
    """The ranking, then the best layout's time, communication and memory."""
    if not result.ranked:
        return ()
    best = result.best
    return (_ranking(result, top), _breakdown(best), _communication(best), _memory(best))


def _title(result: SearchResult) -> str:
    return f"Parallel plans: {result.model} on {result.gpus} × {result.cluster.accelerator.id}"


def _lines(result: SearchResult) -> list[str]:
    cluster = result.cluster
    up, out = cluster.scale_up, cluster.scale_out
    tokens = result.global_batch * result.seq
    lines = [
        f"seq {result.seq} · global batch {result.global_batch} sequences "
        f"({format_count(tokens)} tokens) · overlap model: {result.overlap}",
        f"cluster {cluster.name}: {cluster.gpus_per_node} GPUs per node; in a node "
        f"{up.name} {format_rate(up.bandwidth_bytes_per_s, 'B/s')}, between nodes {out.name} "
        f"{format_rate(out.bandwidth_bytes_per_s, 'B/s')} (per GPU per direction); collectives "
        f"at {cluster.efficiency:.0%} of link bandwidth",
        f"{result.considered} layouts timed, {result.fitting} fit, {result.too_big} dropped "
        "(do not fit the memory)",
    ]
    if result.ranked:
        lines.append(f"matmuls at {result.ranked[0].compute_efficiency:.0%} of the dense peak")
    return lines


def record_lines(header: Sequence[str], row: Sequence[str], width: int) -> list[str]:
    """One table row as ``header value`` pairs joined by `` · ``, packed into lines of at most
    ``width`` cells (a pair is never split), continuation lines indented by four spaces.

    >>> record_lines(("#", "step", "MFU"), ("1", "3.11 s", "57.7%"), 17)
    ['# 1 · step 3.11 s', '    MFU 57.7%']
    """
    lines: list[str] = []
    for pair in (f"{name} {value}" for name, value in zip(header, row)):
        if lines and cell_len(lines[-1]) + 3 + cell_len(pair) <= width:
            lines[-1] += f" · {pair}"
        else:
            lines.append(pair if not lines else f"    {pair}")
    return lines


class FittedSection:
    """A section as a table where the console is wide enough for it, else as one block of
    :func:`record_lines` per row: a redirected stdout (80 columns) or a narrow terminal gets
    every value on whole lines instead of columns folded a few characters wide."""

    def __init__(self, section: Section) -> None:
        self.section = section

    def __rich_console__(self, console: Console, options: ConsoleOptions
                         ) -> Iterator[Table | Text]:
        table = _rich_table(self.section)
        unbounded = options.update(width=10**6)
        if Measurement.get(console, unbounded, table).maximum <= options.max_width:
            yield table
            return
        yield Text(self.section.title)
        for row in self.section.rows:
            for line in record_lines(self.section.header, row, options.max_width):
                yield Text(line, no_wrap=True, overflow="fold")


def render_search_table(result: SearchResult, top: int = 5) -> Group:
    """A rich renderable of the search: the settings lines, then :func:`search_sections`, each
    a table where it fits the width and one block per row where it does not."""
    parts: list[Text | FittedSection] = [Text(_title(result), style="bold")]
    parts += [Text(line) for line in _lines(result)]
    parts += [FittedSection(section) for section in search_sections(result, top)]
    return Group(*parts)


def render_search_markdown(result: SearchResult, top: int = 5) -> str:
    """The search as Markdown: the settings as a list, then one table per section."""
    lines = [f"# {_title(result)}", ""] + [f"- {line}" for line in _lines(result)] + [""]
    for section in search_sections(result, top):
        lines += _markdown_table(section)
    return "\n".join(lines).rstrip() + "\n"
