"""One adapter per counting tool: call it as its users do, normalise its number to MACs.

Every adapter turns the tool's headline output into ``Count(macs, params, raw)``: ``raw`` keeps
the tool's own numbers under its own names, ``macs`` is the normalised figure (how is in each
adapter's ``normalisation`` text, which the docs print verbatim). Imports are lazy: a tool that
is not installed only fails when it is used.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from bench.peers.cases import Built

__all__ = ["TOOLS", "Count", "Tool", "quiet", "tool_by_name"]


@dataclass(frozen=True)
class Count:
    """A tool's answer: normalised MACs and params (``None``: not reported), and its raw output."""

    macs: int | None
    params: int | None
    raw: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    """A counting tool.

    Attributes:
        name: row label.
        distribution: the PyPI name whose version is reported.
        normalisation: how ``macs`` is derived from the tool's output (for the docs).
        count: runs the tool once on a built model.
        call: the call used, for the docs.
        module: what to import to see whether the tool works here.
    """

    name: str
    distribution: str
    normalisation: str
    count: Callable[[Built], Count]
    call: str
    module: str

    def version(self) -> str:
        """The installed version, or raise ``PackageNotFoundError``."""
        return importlib.metadata.version(self.distribution)


@contextlib.contextmanager
def quiet() -> Any:
    """Swallow what a tool prints (several print banners or warnings on every call)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield sink


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- adapters -------------------------------------------------------------------------------------
def _flopwise(built: Built) -> Count:
    import flopwise

    report = flopwise.profile(built.model, built.args, built.kwargs)
    total = report.total
    return Count(total.macs, total.params, {"macs": total.macs, "flops_standard": total.flops,
                                            "unsupported_ops": len(report.unsupported)})


def _flop_counter_mode(built: Built) -> Count:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as mode:
        built.model(*built.args, **built.kwargs)
    flops = mode.get_total_flops()
    return Count(flops // 2, None, {"flops": flops})


def _fvcore(built: Built) -> Count:
    from fvcore.nn import FlopCountAnalysis, parameter_count

    analysis = FlopCountAnalysis(built.model, built.args)
    flops = analysis.total()
    params = parameter_count(built.model)[""]
    return Count(int(flops), int(params), {"flops": flops})


def _thop(built: Built) -> Count:
    import thop

    ops, params = thop.profile(built.model, inputs=built.args, verbose=False)
    return Count(round(ops), round(params), {"ops": float(ops), "params": float(params)})


def _ptflops(backend: str) -> Callable[[Built], Count]:
    def count(built: Built) -> Count:
        from ptflops import get_model_complexity_info

        x = built.args[0]
        macs, params = get_model_complexity_info(
            built.model, tuple(x.shape), as_strings=False, print_per_layer_stat=False,
            input_constructor=lambda _shape: x, backend=backend)
        if macs is None:
            raise RuntimeError("ptflops returned None (it logs the exception and carries on)")
        # NB: the pytorch backend divides by its batch counter (the length of the first
        # positional input): it reports MACs per sample. The aten backend does not.
        per_batch = len(x) if backend == "pytorch" else 1
        return Count(int(macs) * per_batch, int(params),
                     {"macs": float(macs), "params": float(params)})

    return count


def _deepspeed(built: Built) -> Count:
    from deepspeed.profiling.flops_profiler import get_model_profile

    flops, macs, params = get_model_profile(
        built.model, args=list(built.args), kwargs=dict(built.kwargs), print_profile=False,
        detailed=False, as_string=False, warm_up=0)
    return Count(int(macs), int(params), {"flops": flops, "macs": macs, "params": params})


def _calflops(built: Built) -> Count:
    from calflops import calculate_flops

    flops, macs, params = calculate_flops(
        built.model, args=list(built.args), kwargs=dict(built.kwargs), print_results=False,
        print_detailed=False, output_as_string=False)
    return Count(int(macs), int(params), {"flops": flops, "macs": macs, "params": params})


def _torchinfo(built: Built) -> Count:
    import torchinfo

    device = built.args[0].device
    stats = torchinfo.summary(built.model, input_data=list(built.args), verbose=0, device=device)
    return Count(int(stats.total_mult_adds), int(stats.total_params),
                 {"total_mult_adds": stats.total_mult_adds, "total_params": stats.total_params})


def _torchprofile(built: Built) -> Count:
    import torchprofile

    macs = torchprofile.profile_macs(built.model, built.args)
    return Count(int(macs), None, {"macs": macs})


TOOLS: tuple[Tool, ...] = (
    Tool(name="flopwise", distribution="flopwise", module="flopwise", count=_flopwise,
         call="flopwise.profile(model, args)",
         normalisation="`report.total.macs` (MACs of contractions; FLOPs are reported "
                       "separately under a named convention): as is"),
    Tool(name="FlopCounterMode", distribution="torch", module="torch.utils.flop_counter",
         count=_flop_counter_mode, call="with FlopCounterMode(display=False): model(*args)",
         normalisation="`get_total_flops()` is 2 FLOPs per MAC of contractions: ÷ 2"),
    Tool(name="fvcore", distribution="fvcore", module="fvcore.nn", count=_fvcore,
         call="FlopCountAnalysis(model, args).total()",
         normalisation="`FlopCountAnalysis.total()` counts one per MAC (it calls them flops): "
                       "as is"),
    Tool(name="thop", distribution="thop", module="thop", count=_thop,
         call="thop.profile(model, inputs=args, verbose=False)",
         normalisation="`profile()`'s first value is MACs (plus its per-layer elementwise "
                       "rules): as is"),
    Tool(name="ptflops", distribution="ptflops", module="ptflops", count=_ptflops("pytorch"),
         call="get_model_complexity_info(model, shape, input_constructor=...) (default "
              "backend 'pytorch')",
         normalisation="returns MACs per sample (bias adds and some elementwise layers "
                       "included): × the batch size (the first input's length)"),
    Tool(name="ptflops-aten", distribution="ptflops", module="ptflops", count=_ptflops("aten"),
         call="get_model_complexity_info(model, shape, input_constructor=..., backend='aten')",
         normalisation="returns MACs (bias adds included), not divided by the batch: as is"),
    Tool(name="deepspeed", distribution="deepspeed", module="deepspeed.profiling.flops_profiler",
         count=_deepspeed,
         call="get_model_profile(model, args=args, warm_up=0, print_profile=False)",
         normalisation="`get_model_profile` returns (flops, macs, params): the macs"),
    Tool(name="calflops", distribution="calflops", module="calflops", count=_calflops,
         call="calculate_flops(model, args=args, print_results=False)",
         normalisation="`calculate_flops` returns (flops, macs, params): the macs"),
    Tool(name="torchinfo", distribution="torchinfo", module="torchinfo", count=_torchinfo,
         call="torchinfo.summary(model, input_data=args, verbose=0)",
         normalisation="`summary().total_mult_adds` (bias adds included): as is"),
    Tool(name="torchprofile", distribution="torchprofile", module="torchprofile",
         count=_torchprofile, call="torchprofile.profile_macs(model, args)",
         normalisation="`profile_macs()` returns MACs: as is"),
)


def tool_by_name(name: str) -> Tool:
    """One tool by its row label."""
    for tool in TOOLS:
        if tool.name == name:
            return tool
    raise KeyError(name)
