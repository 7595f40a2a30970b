"""``flopwise profile MODEL``: build a model from a spec, count one run, render the report.

torch, the model libraries and the renderers are imported inside the command, so ``flopwise
--help`` starts without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from flopwise.capture.execute import EXECUTE_HELP, Execute
from flopwise.cli.app import app, errors_to_exit, stderr, stdout, write_output
from flopwise.cli.estimates import (
    TIME_HELP,
    Extras,
    add_batch_fit,
    add_estimate,
    check_timing_device,
    load_calibration_for,
    load_hardware,
)
from flopwise.cli.generate import (
    BATCH_HELP,
    GENERATE_HELP,
    GenerateRequest,
    parse_batches,
    parse_generate,
    profile_serving,
)
from flopwise.cli.options import (
    CalibrationOption,
    ComputeEfficiency,
    HardwareOption,
    MaxFlops,
    MaxGflops,
    MaxLatencyMs,
    MaxMacs,
    MaxMemory,
    MaxParams,
    MemoryEfficiency,
)
from flopwise.errors import FlopwiseError, ModelLoadError, ModelRunError, UsageError
from flopwise.render.formats import format_choices, format_help, render

if TYPE_CHECKING:
    from flopwise.models import LoadedModel, TensorRequest
    from flopwise.models.fallback import Attempt
    from flopwise.report import Report

__all__ = ["ProfileFormat", "profile_command", "profile_spec", "render_report"]


#: Output formats of ``flopwise profile`` (:data:`flopwise.render.formats.FORMATS`).
if TYPE_CHECKING:
    ProfileFormat = str
else:  # Literal[the format names]: Typer offers them as the choices
    ProfileFormat = format_choices("profile")


@contextlib.contextmanager
def _working(message: str) -> Iterator[None]:
    """A spinner on stderr while something runs, only when stderr is a terminal."""
    if not stderr.is_terminal:
        yield
        return
    with stderr.status(message, spinner="dots"):
        yield


def _requests(shapes: Sequence[str], dtypes: Sequence[str]) -> list[TensorRequest]:
    from flopwise.models import TensorRequest, parse_dtype, parse_shape

    parsed = [parse_shape(shape) for shape in shapes]
    names = [parse_dtype(dtype) for dtype in dtypes]
    if len(names) > 1 and len(names) != len(parsed):
        raise UsageError(f"{len(names)} --dtype for {len(parsed)} --input; give one --dtype for "
                         "all inputs or one per --input, in order")
    if names and not parsed:
        raise UsageError("--dtype sets the dtype of --input tensors; pass --input SHAPE too "
                         "(or NAME=SHAPE:DTYPE in --kwarg)")
    if len(names) == 1:
        names = names * len(parsed)
    return [TensorRequest(shape, names[i] if names else None) for i, shape in enumerate(parsed)]


def render_report(report: Report, output_format: str, columns: str | None,
                  depth: int | None, ops: bool) -> str:
    """The report as text in ``output_format`` (no colour; tables at their natural width)."""
    text: str = render("profile", output_format, report, columns=columns, max_depth=depth,
                       ops=ops)
    return text


def _show(report: Report, output_format: str, columns: str | None, depth: int | None,
          ops: bool, output: Path | None) -> None:
    """Colour tables on a terminal; plain text to files, pipes and machine formats."""
    terminal = output is None and stdout.is_terminal
    if terminal and output_format == "table":
        from flopwise.render.table import rich_table

        stdout.print(rich_table(report, columns, depth, ops))
    elif terminal and output_format == "tree":
        from flopwise.render.tree import tree_view

        stdout.print(tree_view(report, columns, depth))
    else:
        write_output(render_report(report, output_format, columns, depth, ops), output)
    if report.unsupported and output_format in ("json", "csv"):
        listed = ", ".join(f"{op} ×{calls}" for op, calls in report.unsupported.items())
        stderr.print(f"warning: {len(report.unsupported)} op(s) without a formula are not "
                     f"counted: {listed}; --strict makes this an error", markup=False,
                     highlight=False)


@app.command("profile")
def profile_command(
    model: str = typer.Argument(
        ..., metavar="MODEL",
        help="torchvision:NAME, timm:NAME, hf:CONFIG (a model type such as gpt2, or a local "
        "config.json), keras:PATH.keras, path/to/file.py:factory, package.module:factory, or "
        "an ONNX file (model.onnx).",
    ),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", metavar="SHAPE",
        help="Shape of a positional input, e.g. 1,3,224,224 (repeat for more inputs). For hf "
        "text models: token ids of that shape. For .onnx files: NAME=SHAPE, or DIM=N for a "
        "symbolic dimension. Default: the model's own (eval crop; for hf models every input "
        "the forward needs, from the config, each named in a note).",
    ),
    dtypes: list[str] = typer.Option(
        [], "--dtype", metavar="DTYPE",
        help="dtype of the --input tensors: one for all, or one per --input. Default: the "
        "model's float dtype (int64 token ids for hf text models).",
    ),
    kwargs: list[str] = typer.Option(
        [], "--kwarg", "-k", metavar="NAME=SHAPE[:DTYPE]",
        help="A keyword input, e.g. attention_mask=1,128:int64 (repeatable).",
    ),
    device: str = typer.Option(
        "meta", "--device",
        help="meta (build without weights; nothing computed; a model whose code needs values "
        "is rebuilt on the CPU by itself, with a note), cpu, cuda or cuda:N.",
    ),
    model_dtype: str | None = typer.Option(
        None, "--model-dtype", metavar="DTYPE",
        help="Cast the model's floating parameters and buffers, e.g. bfloat16.",
    ),
    backward: bool = typer.Option(
        False, "--backward", help="Also run and count the backward pass of output.sum()."
    ),
    convention: str = typer.Option(
        "standard", "--convention", "-c",
        help="FLOPs convention: standard, matmul, macs, exact, fvcore, thop."
    ),
    depth: int | None = typer.Option(
        None, "--depth", "-d", min=0, help="Show modules down to this depth (root = 0)."
    ),
    columns: str | None = typer.Option(
        None, "--columns",
        help="Comma-separated columns: name,type,calls,params,trainable_params,macs,flops,"
        "%flops,self_macs,self_flops,forward_flops,backward_flops,optimizer_flops,bytes_read,"
        "bytes_written,output_bytes,saved_bytes,peak_live_bytes; with --hardware est_time,"
        "%est_time,bound,intensity; with --time time,%time,flops_per_s,%peak.",
    ),
    output_format: ProfileFormat = typer.Option(
        "table", "--format", "-f", help=format_help("profile"),
    ),
    ops: bool = typer.Option(False, "--ops", help="Also show the per-operator table (table format)."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write to this file instead of stdout."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit with code 3 if any op has no cost formula."
    ),
    train: bool = typer.Option(
        False, "--train/--eval", help="Module mode during the run (default: eval)."
    ),
    reparameterize: bool = typer.Option(
        False, "--reparameterize",
        help="timm models with training-time branches (RepVGG, MobileOne, FastViT, RepGhost, "
        "...): count the fused inference form (timm's reparameterize_model). Default: the "
        "form timm.create_model builds.",
    ),
    plot: Path | None = typer.Option(
        None, "--plot", metavar="FILE.png",
        help="Also draw per-layer cost bars (and the roofline, with a hardware) to this image "
        "(needs pip install 'flopwise[plot]').",
    ),
    symbolic: str | None = typer.Option(
        None, "--symbolic", metavar="DIMS",
        help="Print MACs and FLOPs as exact polynomials of these input dimensions instead: "
        "NAME[=START[:STEP]],... with NAME batch, seq, side, height or width (profiled on "
        "meta at several sizes, verified at more; refused when not polynomial), e.g. "
        "--symbolic batch,seq or --symbolic side=224:32.",
    ),
    max_gflops: MaxGflops = None,
    max_flops: MaxFlops = None,
    max_macs: MaxMacs = None,
    max_params: MaxParams = None,
    max_memory: MaxMemory = None,
    max_latency_ms: MaxLatencyMs = None,
    hardware: HardwareOption = None,
    compute_efficiency: ComputeEfficiency = 1.0,
    memory_efficiency: MemoryEfficiency = 1.0,
    calibration: CalibrationOption = None,
    time_it: bool = typer.Option(False, "--time", help=TIME_HELP),
    warmup: int = typer.Option(3, "--warmup", min=0, help="--time: untimed runs first."),
    repeats: int = typer.Option(10, "--repeats", min=1, help="--time: timed runs (median)."),
    generate: str | None = typer.Option(None, "--generate", metavar="prompt=N,new=M",
                                        help=GENERATE_HELP),
    batch: str | None = typer.Option(None, "--batch", metavar="B1,B2,...", help=BATCH_HELP),
    execute: Execute = typer.Option(
        Execute.AUTO, "--execute", help=EXECUTE_HELP + " --device still picks where the "
        "model is built."),
    world: int | None = typer.Option(
        None, "--world", min=1, rich_help_panel="Parallel (docs/parallel.md)",
        help="Simulate rank 0 of a job of N ranks (torch's fake process group, fake tensors) "
        "with the --parallel recipes applied; the report gains its collectives."),
    mesh: str | None = typer.Option(
        None, "--mesh", metavar="DIM=N,...", rich_help_panel="Parallel (docs/parallel.md)",
        help="Named mesh dimensions, outermost first, e.g. dp=8,tp=8 (product = --world)."),
    parallel: str | None = typer.Option(
        None, "--parallel", rich_help_panel="Parallel (docs/parallel.md)",
        help="fsdp (fully_shard per block), tp (tensor + sequence parallel; Llama, Mistral, "
        "Qwen2), pp (pipeline stages by layer, 1F1B; needs --backward), ep (experts sharded, "
        "all-to-all; Mixtral-style MoE), or several with --mesh, e.g. fsdp,tp or pp,fsdp."),
    micro_batches: int | None = typer.Option(
        None, "--micro-batches", min=1, rich_help_panel="Parallel (docs/parallel.md)",
        help="--parallel pp: micro-batches per step (must divide the batch) [default: one "
        "sequence each]."),
) -> None:
    """Count what MODEL costs: parameters, MACs, FLOPs (named convention), bytes, per module."""
    with errors_to_exit():
        from flopwise.budget import Budget
        from flopwise.conventions import get_convention
        from flopwise.models import check_device, parse_dtype
        from flopwise.render.columns import parse_columns

        get_convention(convention)
        if columns is not None:
            parse_columns(columns)
        if model_dtype is not None:
            parse_dtype(model_dtype)
        check_device(device)
        if reparameterize:
            from flopwise.models.timm import check_reparameterize

            check_reparameterize(model)
        budget = Budget.parse(max_gflops=max_gflops, max_flops=max_flops, max_macs=max_macs,
                              max_params=max_params, max_memory=max_memory,
                              max_latency_ms=max_latency_ms)
        if plot is not None:
            from flopwise.render.plots import check_plot_target

            check_plot_target(plot)
        if time_it:
            check_timing_device(device)
        serving = parse_generate(generate) if generate is not None else None
        if batch is not None and serving is None:
            raise UsageError("--batch sets the batch sizes to time with --generate; add "
                             "--generate prompt=N,new=M")
        batches = parse_batches(batch)
        if serving is not None and (world is not None or parallel is not None):
            raise UsageError("--generate traces one process; drop --world/--parallel")
        if serving is not None and time_it:
            raise UsageError("--time measures one forward pass; with --generate the times are "
                             "roofline estimates (add --hardware), so drop --time")
        accelerator = load_hardware(hardware)
        extras = Extras(accelerator, compute_efficiency, memory_efficiency, time_it, warmup,
                        repeats, calibration=load_calibration_for(hardware, calibration))

        if symbolic is not None:
            _show_symbolic(model, inputs, dtypes, kwargs, device, train, model_dtype, backward,
                           convention, symbolic, output_format, output)
            return
        if serving is not None and model.lower().endswith(".onnx"):
            raise UsageError("--generate traces a transformers model (hf:...), not an .onnx file")
        if world is not None or parallel is not None:
            report = _profile_parallel(model, inputs, dtypes, kwargs, train, model_dtype,
                                       backward, convention, strict, (world, mesh, parallel),
                                       micro_batches, extras)
        else:
            report = profile_spec(model, inputs, dtypes, kwargs, device, train, model_dtype,
                                  backward, convention, strict, extras, reparameterize,
                                  serving=serving, batches=batches, execute=execute.value)
        _show(report, output_format, columns, depth, ops, output)
        if plot is not None:
            from flopwise.render.plots import plot_report

            stderr.print(f"wrote {plot_report(report, plot)}", markup=False, highlight=False)
        if not budget.empty:
            from flopwise.cli.check import enforce_budget

            enforce_budget(report, budget, model, ok_on_stderr=True)


def _show_symbolic(model: str, inputs: Sequence[str], dtypes: Sequence[str],
                   kwargs: Sequence[str], device: str, train: bool, model_dtype: str | None,
                   backward: bool, convention: str, symbolic: str,
                   output_format: ProfileFormat, output: Path | None) -> None:
    """``--symbolic``: the cost as polynomials (:mod:`flopwise.cli.symbolic`)."""
    from flopwise.cli.symbolic import parse_symbolic, profile_symbolic
    from flopwise.models import parse_kwarg
    from flopwise.render.symbolic import (
        render_scaling_json,
        render_scaling_markdown,
        render_scaling_text,
    )

    parse_symbolic(symbolic)
    if model.lower().endswith(".onnx"):
        raise UsageError("--symbolic profiles PyTorch models; an .onnx file's symbolic "
                         "dimensions are set with --input DIM=N")
    with _working(f"fitting the cost of {model} in {symbolic}"):
        fit = profile_symbolic(model, _requests(inputs, dtypes),
                               dict(parse_kwarg(text) for text in kwargs), device, train,
                               model_dtype, backward, convention, symbolic)
    if output_format == "json":
        text = render_scaling_json(fit)
    elif output_format == "md":
        text = render_scaling_markdown(fit)
    elif output_format == "table":
        text = render_scaling_text(fit)
    else:
        raise UsageError("--symbolic prints text (table), md or json, not "
                         f"{output_format}")
    write_output(text, output)

def _profile_parallel(model: str, inputs: Sequence[str], dtypes: Sequence[str],
                      kwargs: Sequence[str], train: bool, model_dtype: str | None,
                      backward: bool, convention: str, strict: bool,
                      world_mesh_parallel: tuple[int | None, str | None, str | None],
                      micro_batches: int | None, extras: Extras) -> Report:
    """``--world N --parallel ...``: build and count the model as rank 0 of a simulated job."""
    from flopwise.distributed.recipes import parallel_world, parse_mesh, parse_parallel

    world, mesh_text, parallel = world_mesh_parallel
    if world is None or parallel is None:
        raise UsageError("--world N and --parallel RECIPES go together, e.g. --world 64 "
                         "--parallel fsdp")
    mesh = parse_mesh(mesh_text) if mesh_text else None
    recipes = parse_parallel(parallel)
    if "pp" in recipes and not backward:
        raise UsageError("--parallel pp times a training step (1F1B runs forward and backward); "
                         "add --backward")
    if micro_batches is not None and "pp" not in recipes:
        raise UsageError("--micro-batches splits the batch over pipeline stages; add pp to "
                         "--parallel, or drop it")
    stderr.print(f"simulating rank 0 of {world} (fake tensors on cpu, torch's fake process "
                 "group)", markup=False, highlight=False)
    with parallel_world(world, mesh, recipes, micro_batches=micro_batches,
                        accelerator=extras.accelerator,
                        compute_efficiency=extras.compute_efficiency,
                        memory_efficiency=extras.memory_efficiency) as job:
        return _profile_torch(model, inputs, dtypes, kwargs, "cpu", train, model_dtype,
                              backward, convention, strict, prepare=job.prepare, count=job.count)


def profile_spec(model: str, inputs: Sequence[str], dtypes: Sequence[str],
                 kwargs: Sequence[str], device: str, train: bool, model_dtype: str | None,
                 backward: bool, convention: str, strict: bool,
                 extras: Extras | None = None, reparameterize: bool = False,
                 serving: GenerateRequest | None = None, batches: Sequence[int] = (1,),
                 execute: str = "auto") -> Report:
    """Count the model a spec names, through its source: graph sources (``.onnx``) directly,
    PyTorch sources by :func:`_profile_torch`."""
    from flopwise.models import find_source

    source = find_source(model)
    if not source.graph:
        return _profile_torch(model, inputs, dtypes, kwargs, device, train, model_dtype,
                              backward, convention, strict, extras, reparameterize,
                              serving=serving, batches=batches, execute=execute)
    extras = extras or Extras()
    if extras.time:
        raise UsageError(f"--time measures PyTorch models; for a {source.name} file use "
                         "flopwise.onnx.measure_latency (onnxruntime)")
    with _working(f"counting {model}"):
        report = source.implementation().count(model, inputs, convention, strict)
    if extras.accelerator is not None:
        report = add_estimate(report, extras.accelerator, extras.compute_efficiency,
                              extras.memory_efficiency)
    return report


def _note(text: str) -> None:
    stderr.print(f"note: {text}", markup=False, highlight=False)


def _execution_note(report: Report) -> None:
    """One line on how a model built on a real device was counted (RunInfo.executed)."""
    executed, device = report.run.executed, report.run.device
    if executed == "shadow":
        _note(f"counted on shape-only shadows of the {device} model (meta stand-ins of its "
              "weights and inputs; nothing computed); --execute always runs it")
    elif executed.startswith("real (fallback: "):
        reason = executed.removeprefix("real (fallback: ").removesuffix(")")
        _note(f"counted by running the model on {device}: its code needs tensor values, "
              f"which shape-only shadows lack ({reason})")


def _build(model: str, attempt: Attempt, train: bool) -> LoadedModel:
    from flopwise.models import load_model

    with _working(f"building {model} on {attempt.device}"):
        try:
            return load_model(model, attempt.device, train, attempt.model_dtype)
        except FlopwiseError:
            raise
        except Exception as error:
            first = (str(error).strip().splitlines() or [""])[0]
            raise ModelLoadError(
                f"building {model} failed: {type(error).__name__}: {first}") from error


def _profile_torch(model: str, inputs: Sequence[str], dtypes: Sequence[str],
                   kwargs: Sequence[str], device: str, train: bool, model_dtype: str | None,
                   backward: bool, convention: str, strict: bool,
                   extras: Extras | None = None, reparameterize: bool = False,
                   prepare: Callable[[Any], Any] | None = None,
                   serving: GenerateRequest | None = None, batches: Sequence[int] = (1,),
                   count: Callable[..., Report] | None = None,
                   execute: str = "auto") -> Report:
    """Build a PyTorch model from its spec, make its inputs, count it (with its memory), and
    add what ``extras`` asks for (``prepare`` runs on the built model first: the simulated
    world's parallel recipes). When the device or dtype cannot run the model (values needed
    on meta, a half-precision-only kernel) it is rebuilt as :func:`flopwise.models.fallback.
    next_attempt` says, with a note on stderr. A re-parameterizable timm model is counted as
    built, or fused with ``reparameterize``; a note says which."""
    extras = extras or Extras()
    import flopwise
    from flopwise.models import (
        CallTrace,
        check_device,
        describe_failure,
        input_notes,
        make_inputs,
        parse_dtype,
        parse_kwarg,
    )
    from flopwise.models.fallback import Attempt, RetryGuard, next_attempt
    from flopwise.models.timm import counted_form

    requests = _requests(inputs, dtypes)
    keyword_requests = dict(parse_kwarg(text) for text in kwargs)
    if model_dtype is not None:
        parse_dtype(model_dtype)
    check_device(device)
    attempt = Attempt(device, model_dtype)
    while True:
        guard = RetryGuard(attempt, model, backward)
        loaded, form = counted_form(_build(model, attempt, train), reparameterize)
        if prepare is not None:
            prepare(loaded.model)
        args, keyword = make_inputs(loaded, requests, keyword_requests, attempt.device)
        if not attempt.reason:
            for line in (*input_notes(loaded, requests, keyword_requests), form):
                if line:
                    _note(line)
        if serving is not None:
            if backward:
                raise UsageError("--generate counts inference (prefill and decode); drop --backward")
            with _working(f"tracing prefill and decode of {model}"):
                report = profile_serving(loaded.model, serving, batches, attempt.device, convention,
                                         strict, extras.accelerator,
                                         f"{model} ({type(loaded.model).__name__})")
            if extras.accelerator is not None:
                report = add_estimate(report, extras.accelerator, extras.compute_efficiency,
                                      extras.memory_efficiency)
            return report
        with _working(f"counting {model}"), CallTrace(loaded.model) as trace:
            try:
                report = (count or flopwise.profile)(
                    loaded.model, args, keyword, backward=backward, convention=convention,
                    strict=strict, memory=True, execute=execute,
                    observers=(guard,) if guard.active else (),
                    name=f"{model} ({type(loaded.model).__name__})")
                break
            except FlopwiseError:
                raise
            except Exception as error:
                retry = next_attempt(error, loaded, attempt, backward)
                if retry is None:
                    raise ModelRunError(
                        describe_failure(error, trace, attempt.device, model)) from error
        _note(retry.reason)
        attempt = retry
    _execution_note(report)
    if extras.accelerator is not None and extras.fit:
        with _working(f"fitting the largest batch on {extras.accelerator.id}"):
            report = add_batch_fit(report, loaded.model, args, keyword, extras.accelerator)
    return extras.apply(report, loaded.model, args, keyword, backward, model)
