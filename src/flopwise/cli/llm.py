"""``flopwise llm``: plan a transformer from a preset, a config.json or explicit dimensions.

Never imports torch: the planner is arithmetic over the architecture.
"""

from __future__ import annotations

import io
import json
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from flopwise.cli.app import app, errors_to_exit, stdout, write_output
from flopwise.errors import UsageError
from flopwise.llm.config import TransformerSpec, load_spec, override_spec, spec_from_dims
from flopwise.llm.parallel import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_OVERLAP,
    OVERLAPS,
    Layout,
)
from flopwise.llm.plan import SWEEP_KEYS, LLMPlan, plan, sweep
from flopwise.llm.presets import preset_description, preset_names, preset_source
from flopwise.llm.render_search import render_search_markdown, render_search_table
from flopwise.llm.search import SearchResult, default_global_batch, search
from flopwise.render.formats import format_choices, format_help, render
from flopwise.render.units import parse_count

__all__ = ["llm_command", "parse_sweep"]

_FILE_WIDTH = 160  # characters per line when a table is written to a file


#: Output formats of ``flopwise llm`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    LLMFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
    LLMFormat = format_choices("llm")


class Dtype(str, Enum):
    """Weight (and compute) dtypes the planner knows."""

    FP32 = "fp32"
    BF16 = "bf16"
    FP16 = "fp16"
    FP8 = "fp8"
    INT8 = "int8"
    INT4 = "int4"


class Recompute(str, Enum):
    """Activation recomputation (Korthikanti et al. 2022)."""

    NONE = "none"
    SELECTIVE = "selective"
    FULL = "full"


class Mode(str, Enum):
    """Which per-GPU memory total is the headline (and decides 'fits')."""

    TRAIN = "train"
    INFER = "infer"


class Attention(str, Enum):
    """How the causal attention square is counted."""

    FULL = "full"
    CAUSAL = "causal"


Overlap = Enum("Overlap", {name.upper(): name for name in OVERLAPS}, type=str)  # type: ignore[misc]
Overlap.__doc__ = "How communication overlaps compute in the step-time model."


class Mlp(str, Enum):
    """MLP shape for explicit dimensions."""

    GATED = "gated"
    PLAIN = "plain"


def parse_sweep(text: str) -> tuple[str, list[int]]:
    """``"seq=512,1024,2k"`` -> ``("seq", [512, 1024, 2000])``.

    >>> parse_sweep("batch=1,8,32")
    ('batch', [1, 8, 32])
    """
    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or key not in SWEEP_KEYS or not values.strip():
        raise UsageError(
            f"--sweep {text!r} is not KEY=V1,V2,...; KEY is one of {', '.join(SWEEP_KEYS)}, "
            "e.g. --sweep seq=512,1024,2048"
        )
    try:
        return key, [parse_count(value) for value in values.split(",") if value.strip()]
    except ValueError as error:
        raise UsageError(f"--sweep {text!r}: {error}; give integers such as 512,1024") from None


def _parse_tokens(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return parse_count(text)
    except ValueError as error:
        raise UsageError(f"--tokens {text!r}: {error}; e.g. --tokens 300G or --tokens 2T") from None


def _spec(model: str | None, dims: dict[str, Any], mlp: Mlp | None, bias: bool | None, tied: bool | None) -> TransformerSpec:
    """The architecture: a preset or config with the given dimensions overriding, or dims alone."""
    if model is not None:
        changes = dict(dims)
        if mlp is not None:
            changes["gated_mlp"] = mlp is Mlp.GATED
        if bias is not None:
            changes.update(qkv_bias=bias, out_bias=bias, mlp_bias=bias)
        if tied is not None:
            changes["tied_embeddings"] = tied
        return override_spec(load_spec(model), **changes)
    missing = [f"--{name}" for name in ("hidden", "layers", "heads", "vocab") if dims.get(name) is None]
    if missing:
        raise UsageError(
            f"no model given and {', '.join(missing)} missing; pass a preset "
            "(flopwise llm --list-presets), a config.json, or all of --hidden --layers --heads --vocab"
        )
    return spec_from_dims(
        hidden=dims["hidden"],
        layers=dims["layers"],
        heads=dims["heads"],
        vocab=dims["vocab"],
        kv_heads=dims.get("kv_heads"),
        head_dim=dims.get("head_dim"),
        ffn=dims.get("ffn"),
        gated=mlp is not Mlp.PLAIN,
        bias=bool(bias),
        tied=bool(tied),
        experts=dims.get("experts") or 0,
        top_k=dims.get("experts_per_token") or (1 if dims.get("experts") else 0),
        expert_ffn=dims.get("expert_ffn"),
        shared_expert_ffn=dims.get("shared_expert_ffn") or 0,
        window=dims.get("sliding_window"),
        max_positions=dims.get("max_positions"),
    )


def _presets_table() -> Table:
    table = Table(title="Model presets (flopwise llm NAME)", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("description")
    table.add_column("source")
    for name in preset_names():
        table.add_row(name, preset_description(name), preset_source(name))
    return table


def _emit(renderable: Any, output: Path | None) -> None:
    if output is None:
        stdout.print(renderable)
        return
    buffer = io.StringIO()
    Console(file=buffer, width=_FILE_WIDTH, color_system=None, soft_wrap=False).print(renderable)
    write_output(buffer.getvalue(), output)


def _render(plans: list[LLMPlan], sweep_key: str | None, output_format: str,
            output: Path | None) -> None:
    shown = render("llm", output_format, plans, sweep_key=sweep_key)
    if isinstance(shown, str):
        write_output(shown, output)
    else:
        _emit(shown, output)


def _render_search(result: SearchResult, top: int, output_format: LLMFormat, output: Path | None) -> None:
    if output_format == "json":
        write_output(json.dumps(result.to_dict(top), indent=2), output)
        return
    result.best  # noqa: B018 - the one-line error when no layout fits
    if output_format == "md":
        write_output(render_search_markdown(result, top), output)
    else:
        _emit(render_search_table(result, top), output)


def _parallel(spec: TransformerSpec, options: dict[str, Any], parallel: dict[str, Any],
              output_format: LLMFormat, output: Path | None) -> None:
    """``--search`` (every layout) or ``--step`` (the layout the sizes give) with step time."""
    gpus = options["gpus"]
    if gpus is None and parallel["search"]:
        raise UsageError("--search needs --gpus N, the number of accelerators to plan for")
    limit = spec.max_positions
    seq = options["seq"] or (min(2048, limit) if limit else 2048)
    tp, pp = options["tp"], options["pp"]
    dp = options["dp"] or (gpus // (tp * pp) if gpus else 1)
    gpus = gpus or tp * pp * dp
    batch = parallel["global_batch"] or default_global_batch(seq, gpus)
    layouts = None
    if not parallel["search"]:
        if tp * pp * dp != gpus:
            raise UsageError(f"--gpus {gpus} is not tp·pp·dp = {tp}·{pp}·{dp}; give sizes whose "
                             "product is --gpus")
        if batch % (dp * options["batch"]):
            raise UsageError(f"--global-batch {batch} is not a multiple of dp · --batch = "
                             f"{dp}·{options['batch']}; change either")
        layouts = [Layout(tp=tp, pp=pp, dp=dp, zero=options["zero"], recompute=options["recompute"],
                          micro_batch=options["batch"], micro_batches=batch // (dp * options["batch"]),
                          sequence_parallel=options["sequence_parallel"])]
    result = search(
        spec, gpus=gpus, hardware=options["hardware"] or "h100-sxm", cluster=parallel["cluster"],
        seq=seq, global_batch=batch, dtype=options["dtype"], overlap=parallel["overlap"],
        compute_efficiency=parallel["compute_efficiency"], attention=options["attention"],
        layouts=layouts,
    )
    _render_search(result, parallel["top"], output_format, output)


@app.command("llm")
def llm_command(
    model: str | None = typer.Argument(
        None, help="A preset (llama-3-8b, mixtral-8x7b, gpt2-xl, ...; see --list-presets) or a "
        "Hugging Face config.json (or its folder). Omit to use explicit dimensions."),
    seq: int | None = typer.Option(None, "--seq", help="Context length in tokens [default: 2048, or the model's positions if fewer]."),
    batch: int = typer.Option(1, "--batch", help="Micro-batch: sequences per model replica per step."),
    dtype: Dtype = typer.Option(Dtype.BF16, "--dtype", help="Weight/compute dtype (int8/int4: inference; training then plans bf16)."),
    kv_dtype: Dtype | None = typer.Option(None, "--kv-dtype", help="KV-cache dtype [default: --dtype, bf16 for int8/int4]."),
    tokens: str | None = typer.Option(None, "--tokens", help="Training tokens, SI prefixes allowed: 300G, 2T [default: 20 per parameter]."),
    gpus: int | None = typer.Option(None, "--gpus", help="Accelerators in all [default: tp·pp·dp]."),
    hardware: str | None = typer.Option(None, "--hardware", help="Catalogue id (h100-sxm, a100-80gb, ...; see flopwise hardware) [default: h100-sxm]."),
    mfu: float | None = typer.Option(None, "--mfu", help="Model FLOPs utilisation, a fraction [default: 0.4]."),
    achieved_tflops: float | None = typer.Option(None, "--achieved-tflops", help="Achieved TFLOP/s per GPU (hardware FLOPs, recomputation included); replaces --mfu."),
    recompute: Recompute = typer.Option(Recompute.NONE, "--recompute", help="Activation recomputation."),
    zero: int = typer.Option(0, "--zero", min=0, max=3, help="ZeRO stage over the data-parallel ranks (0-3)."),
    tp: int = typer.Option(1, "--tp", min=1, help="Tensor-parallel size."),
    pp: int = typer.Option(1, "--pp", min=1, help="Pipeline-parallel size."),
    dp: int | None = typer.Option(None, "--dp", min=1, help="Data-parallel size [default: gpus / (tp·pp)]."),
    sp: bool = typer.Option(False, "--sp/--no-sp", help="Sequence parallelism with tensor parallelism."),
    mode: Mode = typer.Option(Mode.TRAIN, "--mode", help="Which per-GPU memory total decides 'fits'."),
    attention: Attention = typer.Option(Attention.FULL, "--attention", help="Causal attention square: full (dense kernels) or causal (unmasked pairs only)."),
    sweep_spec: str | None = typer.Option(None, "--sweep", help="One row per value: seq=512,1024,2048 or batch=1,8,32."),
    output_format: LLMFormat = typer.Option("table", "--format", "-f", help=format_help("llm")),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    list_presets: bool = typer.Option(False, "--list-presets", help="List the presets with their sources and exit."),
    search_layouts: bool = typer.Option(False, "--search", help="Try every tp × pp × dp × ZeRO × recompute × micro-batch layout on --gpus, drop those that do not fit, rank the rest by step time with communication.", rich_help_panel="Parallel plans"),
    step: bool = typer.Option(False, "--step", help="Step time with communication of the layout --tp/--pp/--dp/--zero/--recompute/--batch give.", rich_help_panel="Parallel plans"),
    top: int = typer.Option(5, "--top", min=1, help="Layouts --search shows.", rich_help_panel="Parallel plans"),
    global_batch: int | None = typer.Option(None, "--global-batch", min=1, help="Sequences per step over all replicas [default: about 4 Mi tokens, at least one per GPU].", rich_help_panel="Parallel plans"),
    overlap: Overlap = typer.Option(DEFAULT_OVERLAP, "--overlap", help="none (upper bound), overlap (FSDP prefetch, DDP buckets) or perfect (lower bound).", rich_help_panel="Parallel plans"),  # type: ignore[valid-type]
    cluster: Path | None = typer.Option(None, "--cluster", help="Cluster file: GPUs per node, scale-up and scale-out links (docs/parallel.md) [default: the catalogue's usual node for --hardware].", rich_help_panel="Parallel plans"),
    compute_efficiency: float = typer.Option(DEFAULT_COMPUTE_EFFICIENCY, "--compute-efficiency", help="Fraction of the dense peak the matmuls reach.", rich_help_panel="Parallel plans"),
    hidden: int | None = typer.Option(None, "--hidden", help="Hidden size h.", rich_help_panel="Dimensions"),
    layers: int | None = typer.Option(None, "--layers", help="Transformer blocks l.", rich_help_panel="Dimensions"),
    heads: int | None = typer.Option(None, "--heads", help="Attention (query) heads a.", rich_help_panel="Dimensions"),
    kv_heads: int | None = typer.Option(None, "--kv-heads", help="Key/value heads (grouped-query attention) [default: heads].", rich_help_panel="Dimensions"),
    head_dim: int | None = typer.Option(None, "--head-dim", help="Head size d [default: hidden / heads].", rich_help_panel="Dimensions"),
    ffn: int | None = typer.Option(None, "--ffn", help="MLP inner size [default: 4h plain, 8h/3 rounded to 256 gated].", rich_help_panel="Dimensions"),
    vocab: int | None = typer.Option(None, "--vocab", help="Vocabulary size V.", rich_help_panel="Dimensions"),
    max_positions: int | None = typer.Option(None, "--max-positions", help="Positions the model was trained for.", rich_help_panel="Dimensions"),
    mlp: Mlp | None = typer.Option(None, "--mlp", help="gated (SwiGLU) or plain MLP [default: gated].", rich_help_panel="Dimensions"),
    bias: bool | None = typer.Option(None, "--bias/--no-bias", help="Biases on every projection [default: none].", rich_help_panel="Dimensions"),
    tied: bool | None = typer.Option(None, "--tied/--untied", help="LM head tied to the embedding [default: untied].", rich_help_panel="Dimensions"),
    experts: int | None = typer.Option(None, "--experts", help="Experts per MoE layer.", rich_help_panel="Dimensions"),
    top_k: int | None = typer.Option(None, "--top-k", help="Experts each token runs through.", rich_help_panel="Dimensions"),
    expert_ffn: int | None = typer.Option(None, "--expert-ffn", help="Inner size of one expert [default: --ffn].", rich_help_panel="Dimensions"),
    shared_ffn: int | None = typer.Option(None, "--shared-ffn", help="Inner size of the always-on shared expert.", rich_help_panel="Dimensions"),
    window: int | None = typer.Option(None, "--window", help="Sliding-window attention size (every layer).", rich_help_panel="Dimensions"),
) -> None:
    """Plan a transformer: parameters, FLOPs (with the literature's shortcuts side by side), memory per GPU and time, for training and inference."""
    with errors_to_exit():
        if list_presets:
            _emit(_presets_table(), output)
            return
        dims = {
            "hidden": hidden, "layers": layers, "heads": heads, "kv_heads": kv_heads,
            "head_dim": head_dim, "ffn": ffn, "vocab": vocab, "max_positions": max_positions,
            "experts": experts, "experts_per_token": top_k, "expert_ffn": expert_ffn,
            "shared_expert_ffn": shared_ffn, "sliding_window": window,
        }
        spec = _spec(model, dims, mlp, bias, tied)
        options: dict[str, Any] = {
            "seq": seq, "batch": batch, "dtype": dtype.value,
            "kv_dtype": kv_dtype.value if kv_dtype else None, "tokens": _parse_tokens(tokens),
            "gpus": gpus, "hardware": hardware, "mfu": mfu, "achieved_tflops": achieved_tflops,
            "recompute": recompute.value, "zero": zero, "tp": tp, "pp": pp, "dp": dp,
            "sequence_parallel": sp, "mode": mode.value, "attention": attention.value,
        }
        if search_layouts or step:
            parallel = {"search": search_layouts, "top": top, "global_batch": global_batch,
                        "overlap": overlap.value, "cluster": cluster,
                        "compute_efficiency": compute_efficiency}
            _parallel(spec, options, parallel, output_format, output)
            return
        if sweep_spec is None:
            _render([plan(spec, **options)], None, output_format, output)
            return
        key, values = parse_sweep(sweep_spec)
        options.pop(key)
        _render(list(sweep(spec, key, values, **options)), key, output_format, output)
