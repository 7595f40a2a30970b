"""What each tool reports, found by running it on small probe models (not from its README).

* **units**: a single ``Linear(64, 32)`` on a batch of 4 (8,192 MACs, 128 bias adds,
  2,080 params): the tool's raw numbers show what its headline unit is.
* **probe**: ``ProbeNet`` (conv with bias → batch norm → ReLU → average pool → linear) on a
  2×3×16×16 input; its contractions are 110,752 MACs (conv 2·8·16·16·27 + linear 2·8·10) and it
  has 330 parameters (conv 216 + 8, BN 8 + 8, linear 80 + 10).
* **verbose run**: the tool called with its most detailed options on the probe, with a custom
  operator inside (``peersbench::zorblax``, matmuls hidden from everyone, called by a module of
  an unknown type ``Hidden``). Everything it shows
  — what it prints, logs, warns and returns — is searched: for the probe's layer names
  (per-layer output), for the custom op's name, or a warning naming the ``Hidden`` module type
  (unsupported-op reporting), for time, memory and
  bytes figures (the matching text is kept as evidence).
* **backward**: the probe wrapped in a module whose forward also runs ``loss.backward()``
  (flopwise: ``backward=True``): the count divided by the forward-only count.
* **side effects**: the model's parameters, buffers, state-dict keys, attributes, hooks, flags
  and gradients, torch's global module hooks and a set of torch functions (checked by identity,
  to catch monkeypatching), compared before and after the verbose run.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from bench.peers.cases import Built
from bench.peers.tools import Tool

__all__ = ["LINEAR_MACS", "PROBE_MACS", "PROBE_PARAMS", "ProbeNet", "probe_features"]

LINEAR_IN, LINEAR_OUT, LINEAR_BATCH = 64, 32, 4
LINEAR_MACS = LINEAR_BATCH * LINEAR_IN * LINEAR_OUT  # 8,192
PROBE_MACS = 2 * 8 * 16 * 16 * (3 * 3 * 3) + 2 * 8 * 10  # conv + linear = 110,752
PROBE_PARAMS = (8 * 27 + 8) + (8 + 8) + (8 * 10 + 10)  # conv, batch norm, linear = 330
ZORBLAX_MACS = 2 * (2 * 2 * 8)  # on the [2, 8] features: x·xᵀ (2·2·8) then (x·xᵀ)·x (2·2·8)


@torch.library.custom_op("peersbench::zorblax", mutates_args=())
def zorblax(x: torch.Tensor) -> torch.Tensor:
    """An operator no counter knows (two matmuls hidden inside one custom op)."""
    return x @ x.transpose(-1, -2) @ x


@zorblax.register_fake
def _zorblax_fake(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class Hidden(torch.nn.Module):
    """A module type no hook table knows; it calls the custom operator."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return zorblax(x)


class ProbeNet(torch.nn.Module):
    """The probe model (layer names are unique words, searched for in the tools' output)."""

    def __init__(self, with_hidden: bool = False) -> None:
        super().__init__()
        self.probe_conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.probe_norm = torch.nn.BatchNorm2d(8)
        self.probe_act = torch.nn.ReLU()
        self.probe_pool = torch.nn.AdaptiveAvgPool2d(1)
        self.probe_hidden = Hidden() if with_hidden else torch.nn.Identity()
        self.probe_fc = torch.nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.probe_pool(self.probe_act(self.probe_norm(self.probe_conv(x)))).flatten(1)
        return self.probe_fc(self.probe_hidden(y))


class TrainStep(torch.nn.Module):
    """Forward, then backward of ``output.sum()``, inside one call (hook and dispatch tools see
    the backward only if they can)."""

    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            out = self.inner(x)
            out.sum().backward()
        return out.detach()


def probe(with_hidden: bool = False) -> Built:
    """The probe model and its input."""
    torch.manual_seed(0)
    return Built(ProbeNet(with_hidden).eval(), (torch.randn(2, 3, 16, 16),))


def linear_probe() -> Built:
    """The units probe."""
    torch.manual_seed(0)
    return Built(torch.nn.Sequential(torch.nn.Linear(LINEAR_IN, LINEAR_OUT)).eval(),
                 (torch.randn(LINEAR_BATCH, LINEAR_IN),))


# -- the most detailed call of each tool ----------------------------------------------------------
def _verbose_flopwise(built: Built) -> Any:
    import flopwise

    report = flopwise.profile(built.model, built.args)
    return [str(report), report.to_json()]


def _verbose_fcm(built: Built) -> Any:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=True, depth=99) as mode:
        built.model(*built.args)
    return mode.get_flop_counts()


def _verbose_fvcore(built: Built) -> Any:
    from fvcore.nn import FlopCountAnalysis, flop_count_table

    analysis = FlopCountAnalysis(built.model, built.args)
    return [flop_count_table(analysis), analysis.by_module(), analysis.unsupported_ops()]


def _verbose_thop(built: Built) -> Any:
    import thop

    return thop.profile(built.model, inputs=built.args, verbose=True, ret_layer_info=True,
                        report_missing=True)


def _verbose_ptflops(backend: str) -> Callable[[Built], Any]:
    def call(built: Built) -> Any:
        from ptflops import get_model_complexity_info

        x = built.args[0]
        return get_model_complexity_info(built.model, tuple(x.shape), print_per_layer_stat=True,
                                         input_constructor=lambda _s: x, verbose=True,
                                         backend=backend, ost=sys.stdout)

    return call


def _verbose_deepspeed(built: Built) -> Any:
    from deepspeed.profiling.flops_profiler import get_model_profile

    return get_model_profile(built.model, args=list(built.args), print_profile=True,
                             detailed=True, warm_up=0)


def _verbose_calflops(built: Built) -> Any:
    from calflops import calculate_flops

    return calculate_flops(built.model, args=list(built.args), print_results=True,
                           print_detailed=True)


def _verbose_torchinfo(built: Built) -> Any:
    import torchinfo

    return str(torchinfo.summary(
        built.model, input_data=list(built.args), verbose=0, depth=10,
        col_names=("input_size", "output_size", "num_params", "params_percent", "kernel_size",
                   "mult_adds", "trainable"),
        row_settings=("var_names",)))


def _verbose_torchprofile(built: Built) -> Any:
    import torchprofile

    return torchprofile.profile_macs(built.model, built.args, reduction=None)


VERBOSE: dict[str, Callable[[Built], Any]] = {
    "flopwise": _verbose_flopwise, "FlopCounterMode": _verbose_fcm, "fvcore": _verbose_fvcore,
    "thop": _verbose_thop, "ptflops": _verbose_ptflops("pytorch"),
    "ptflops-aten": _verbose_ptflops("aten"), "deepspeed": _verbose_deepspeed,
    "calflops": _verbose_calflops, "torchinfo": _verbose_torchinfo,
    "torchprofile": _verbose_torchprofile,
}


# -- capturing everything a call shows ------------------------------------------------------------
class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@contextlib.contextmanager
def _captured() -> Iterator[list[str]]:
    """Collect stdout, stderr, warnings and log records of the block into one list of text."""
    texts: list[str] = []
    out = io.StringIO()
    handler = _ListHandler()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            warnings.simplefilter("always")
            yield texts
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        texts.append(out.getvalue())
        texts.extend(str(w.message) for w in caught)
        texts.extend(handler.lines)


def _as_text(value: Any) -> str:
    """Strings as they are, sequences item by item, anything else as JSON (or its repr)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(_as_text(item) for item in value)
    try:
        return json.dumps(value, default=str, indent=1)
    except (TypeError, ValueError):
        return repr(value)


def surface(tool: str, built: Built) -> tuple[str, str | None]:
    """Everything the tool's most detailed call shows, as one text, and its error if it raised."""
    error = None
    with _captured() as texts:
        try:
            texts.append(_as_text(VERBOSE[tool](built)))
        except Exception as exc:  # noqa: BLE001 - a peer's failure is a result
            error = short_error(exc)
    return "\n".join(texts), error


def short_error(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 240 characters)."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {message}"[:240]


# -- side effects ---------------------------------------------------------------------------------
_WATCHED_FUNCTIONS: dict[str, Callable[[], Any]] = {
    "F.linear": lambda: F.linear, "F.conv2d": lambda: F.conv2d, "F.relu": lambda: F.relu,
    "F.batch_norm": lambda: F.batch_norm, "F.softmax": lambda: F.softmax,
    "F.adaptive_avg_pool2d": lambda: F.adaptive_avg_pool2d, "torch.matmul": lambda: torch.matmul,
    "torch.bmm": lambda: torch.bmm, "torch.addmm": lambda: torch.addmm,
    "Tensor.__matmul__": lambda: torch.Tensor.__matmul__,
    "Module.__call__": lambda: torch.nn.Module.__call__,
}
_HOOK_DICTS = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks",
               "_state_dict_hooks", "_load_state_dict_pre_hooks")


def _snapshot(model: torch.nn.Module) -> dict[str, Any]:
    from torch.nn.modules import module as module_mod

    snap: dict[str, Any] = {
        "state_dict keys": set(model.state_dict()),
        "buffers": {name for name, _ in model.named_buffers()},
        "parameters": {name for name, _ in model.named_parameters()},
        "attributes": {f"{name}.{key}" for name, m in model.named_modules() for key in vars(m)},
        "hooks": {f"{name}.{hook}" for name, m in model.named_modules() for hook in _HOOK_DICTS
                  if len(getattr(m, hook, {}))},
        "training": {name for name, m in model.named_modules() if m.training},
        "grads": {name for name, p in model.named_parameters() if p.grad is not None},
        "values": {name: t.detach().clone() for name, t in model.state_dict().items()},
        "global hooks": {name for name in dir(module_mod) if name.startswith("_global_")
                         and isinstance(getattr(module_mod, name), dict)
                         and len(getattr(module_mod, name))},
        "patched": {name: id(get()) for name, get in _WATCHED_FUNCTIONS.items()},
    }
    return snap


def _diff(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    changes: list[str] = []
    for key in ("state_dict keys", "buffers", "parameters", "attributes", "hooks", "training",
                "grads", "global hooks"):
        added, removed = after[key] - before[key], before[key] - after[key]
        if added:
            changes.append(f"{key} +{', '.join(sorted(added)[:4])}"
                           + (f" (+{len(added) - 4} more)" if len(added) > 4 else ""))
        if removed:
            changes.append(f"{key} −{', '.join(sorted(removed)[:4])}")
    changed_values = [name for name, t in before["values"].items()
                      if name in after["values"] and not torch.equal(t, after["values"][name])]
    if changed_values:
        changes.append(f"values changed: {', '.join(changed_values[:4])}")
    patched = [name for name, ident in before["patched"].items() if after["patched"][name] != ident]
    if patched:
        changes.append(f"left patched: {', '.join(patched)}")
    return changes


# -- the checks -----------------------------------------------------------------------------------
_PATTERNS = {
    "time": re.compile(r"[^\n]{0,30}\b(latency|elapsed|duration|runtime)\b[^\n]{0,30}", re.IGNORECASE),
    "memory": re.compile(r"[^\n]{0,30}(\b(size|memory) \([KMG]i?B\)|\b(peak|activations?|weights?|"
                         r"params?|parameters?|total)[ _](memory|bytes))[^\n]{0,30}", re.IGNORECASE),
    "bytes": re.compile(r"[^\n]{0,20}\b(bytes[_ ](read|written|moved|accessed)|memory access)"
                        r"[^\n]{0,20}", re.IGNORECASE),
}


def _evidence(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    return f"yes: “{' '.join(match.group(0).split())[:60]}”" if match else "no"


@dataclass(frozen=True)
class _Counted:
    macs: int | None
    params: int | None
    raw: dict[str, float]
    error: str | None


def _count(tool: Tool, built: Built) -> _Counted:
    from bench.peers.tools import quiet

    try:
        with quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = tool.count(built)
        return _Counted(result.macs, result.params, dict(result.raw), None)
    except Exception as exc:  # noqa: BLE001 - a peer's failure is a result
        return _Counted(None, None, {}, short_error(exc))


def _backward(tool: Tool) -> str:
    """Count a train step (forward + backward) and compare with forward alone."""
    forward = _count(tool, probe())
    if tool.name == "flopwise":
        import flopwise

        built = probe()
        total = flopwise.profile(built.model, built.args, backward=True).total.macs
    else:
        built = probe()
        step = _count(tool, Built(TrainStep(built.model), built.args))
        if step.error:
            return f"fails: {step.error}"
        total = step.macs
    if not forward.macs or total is None:
        return f"fails: {forward.error}"
    ratio = total / forward.macs
    return f"counted (train step = {ratio:.2f}× forward)" if ratio > 1.5 else \
        f"not counted (train step = {ratio:.2f}× forward)"


def _backward_estimate(tool: Tool) -> str:
    """calflops offers a flag that multiplies the forward count (not a count of the backward)."""
    if tool.name != "calflops":
        return ""
    from calflops import calculate_flops

    built = probe()
    with contextlib.redirect_stdout(io.StringIO()):
        _, fwd, _ = calculate_flops(built.model, args=list(built.args), print_results=False,
                                    output_as_string=False)
        _, both, _ = calculate_flops(built.model, args=list(built.args), print_results=False,
                                     output_as_string=False, include_backPropagation=True)
    return f"; `include_backPropagation=True` multiplies the forward by {both / fwd:.2f}"


def _params_cell(counted: _Counted, truth: int) -> str:
    if counted.error:
        return f"fails: {counted.error}"
    if counted.params is None:
        return "no"
    return "yes" if counted.params == truth else f"wrong ({counted.params:,} for {truth:,})"


def _macs_cell(counted: _Counted, truth: int) -> str:
    if counted.error or counted.macs is None:
        return f"fails: {counted.error}"
    if counted.macs == truth:
        return "exact"
    return f"{counted.macs:,} ({(counted.macs - truth) / truth:+.2%}: adds non-contraction work)"


def _flops_cell(counted: _Counted) -> str:
    """The tool's FLOPs-like number on the units probe, as a multiple of its MACs."""
    names = [key for key in counted.raw if "flops" in key]
    if not names:
        return "none (reports MACs only)"
    key = names[0]
    return f"`{key}` = {counted.raw[key]:,.0f} = {counted.raw[key] / LINEAR_MACS:.4g}× MACs"


_MODULE_WARNING = re.compile(r"Hidden[^\n]*(rule|support|missing|unknown|zero|skip|cannot|handler)|"
                             r"(rule|support|missing|unknown|zero|skip|cannot|handler)[^\n]*Hidden",
                             re.IGNORECASE)


def _unsupported_cell(text: str, error: str | None, plain: _Counted, hidden: _Counted) -> str:
    """Does the tool say that it could not count the custom op (or its module type)?"""
    if "zorblax" in text.lower():
        return "reports the op by name"
    if _MODULE_WARNING.search(text):
        return "warns about the module type"
    if error:
        return f"fails: {error}"
    if hidden.macs is not None and plain.macs is not None and hidden.macs != plain.macs:
        return (f"silent; counts the Python-level matmuls inside the op "
                f"({hidden.macs - plain.macs} of {ZORBLAX_MACS} MACs)")
    return "silent (counted as zero)"


def probe_features(tool: Tool) -> dict[str, str]:
    """Every feature cell for one tool (see the module docstring)."""
    units = _count(tool, linear_probe())
    plain = _count(tool, probe())
    built = probe(with_hidden=True)
    before = _snapshot(built.model)
    text, error = surface(tool.name, built)
    effects = _diff(before, _snapshot(built.model))
    unsupported = _unsupported_cell(text, error, plain, _count(tool, probe(with_hidden=True)))
    return {
        "units: Linear 64→32, batch 4 (8,192 MACs)":
            "fails: " + units.error if units.error else
            f"{units.macs:,} MACs; raw {json.dumps(units.raw, default=str)}",
        "params": _params_cell(plain, PROBE_PARAMS),
        "MACs on the probe (110,752)": _macs_cell(plain, PROBE_MACS),
        "FLOPs (units probe)": _flops_cell(units),
        "backward": _backward(tool) + _backward_estimate(tool),
        "bytes moved": _evidence(_PATTERNS["bytes"], text),
        "memory": _evidence(_PATTERNS["memory"], text),
        "time": _evidence(_PATTERNS["time"], text),
        "per-layer": "yes" if "probe_conv" in text and "probe_fc" in text else "no",
        "unsupported op": unsupported,
        "side effects on the model": "; ".join(effects) if effects else "none",
        "verbose call": f"fails: {error}" if error else "ok",
    }
