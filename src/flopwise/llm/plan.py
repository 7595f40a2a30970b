"""The planner: parameters, FLOPs, memory and time of a transformer in one typed result.

>>> from flopwise.llm import plan
>>> result = plan("llama-2-7b", seq=4096, tokens=2 * 10**12, gpus=64, hardware="a100-80gb")
>>> result.params.total
6738415616
>>> result.to_dict()["schema"]
1
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError
from flopwise.llm.config import TransformerSpec, load_spec
from flopwise.llm.flops import (
    ATTENTION_SQUARES,
    RECOMPUTE,
    Approximation,
    ForwardFlops,
    approximations,
    check_choice,
    decode_flops_per_token,
    forward_flops,
    hardware_training_flops,
)
from flopwise.llm.memory import (
    ActivationMemory,
    ModelState,
    activation_memory,
    check_dtype,
    kv_cache_bytes,
    kv_cache_bytes_per_gpu,
    model_state_bytes,
    training_dtype,
    weights_by_dtype,
    weights_bytes,
)
from flopwise.llm.params import ParamCounts, count_params, expert_params
from flopwise.llm.timing import (
    AcceleratorLike,
    Roofline,
    TrainingTime,
    peak_flops_of,
    roofline,
    training_time,
)

__all__ = [
    "SCHEMA",
    "MODES",
    "SWEEP_KEYS",
    "DEFAULT_HARDWARE",
    "DEFAULT_MFU",
    "CHINCHILLA_TOKENS_PER_PARAM",
    "Settings",
    "FlopsPlan",
    "MemoryPlan",
    "TimePlan",
    "LLMPlan",
    "plan",
    "sweep",
]

SCHEMA = 1
MODES: tuple[str, ...] = ("train", "infer")
SWEEP_KEYS: tuple[str, ...] = ("seq", "batch")
DEFAULT_HARDWARE = "h100-sxm"
DEFAULT_MFU = 0.4
DEFAULT_SEQ = 2048
#: Hoffmann et al. 2022: compute-optimal training uses about 20 tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAM = 20


@dataclass(frozen=True)
class Settings:
    """The resolved inputs of a plan (defaults filled in)."""

    seq: int
    batch: int
    dtype: str
    kv_dtype: str
    training_dtype: str
    tokens: int
    tokens_given: bool
    gpus: int
    tp: int
    pp: int
    dp: int
    zero: int
    recompute: str
    sequence_parallel: bool
    mode: str
    attention: str
    hardware: str
    mfu: float | None
    achieved_flops_per_s: float | None


@dataclass(frozen=True)
class FlopsPlan:
    """Matmul FLOPs (2 per MAC) at context ``seq``.

    ``forward`` is one sequence of ``seq`` tokens by part. *Model* FLOPs (training = 3 ×
    forward) are what MFU divides; *hardware* FLOPs add activation recomputation. A step is
    ``batch`` sequences on each of ``dp`` data-parallel replicas.
    """

    forward: ForwardFlops
    forward_per_token: int
    training_per_token: int
    hardware_per_token: int
    training_per_step: int
    hardware_per_step: int
    training_total: int
    hardware_total: int
    decode_per_token: int | None
    approximations: tuple[Approximation, ...]


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes: whole-model weights and KV cache, and what one GPU holds in each mode."""

    weights_bytes: int
    weights_by_dtype: Mapping[str, int] = field(hash=False)
    kv_cache_bytes: int
    train_state: ModelState
    activations: ActivationMemory
    infer_weights_per_gpu: int
    infer_kv_cache_per_gpu: int
    capacity_bytes: int
    mode: str

    @property
    def train_per_gpu(self) -> int:
        """Training: weights + gradients + optimizer state + activations on one GPU."""
        return self.train_state.total + self.activations.total

    @property
    def infer_per_gpu(self) -> int:
        """Inference: the GPU's share of the weights and of the KV cache."""
        return self.infer_weights_per_gpu + self.infer_kv_cache_per_gpu

    @property
    def per_gpu(self) -> int:
        """The per-GPU total of the plan's mode."""
        return self.train_per_gpu if self.mode == "train" else self.infer_per_gpu

    @property
    def fits(self) -> bool:
        """Whether :attr:`per_gpu` fits the accelerator's memory."""
        return self.per_gpu <= self.capacity_bytes


@dataclass(frozen=True)
class TimePlan:
    """Training run time, and inference on one ``tp``-wide replica by the roofline."""

    hardware: str
    training: TrainingTime
    inference_gpus: int
    prefill: Roofline
    decode: Roofline | None
    decode_batch: int

    @property
    def decode_tokens_per_s(self) -> float | None:
        """Generated tokens per second for the whole batch (``None`` for encoders)."""
        if self.decode is None:
            return None
        return self.decode_batch / self.decode.seconds


@dataclass(frozen=True)
class LLMPlan:
    """Everything the planner says about one architecture and one setting.

    ``to_dict()`` gives the JSON contract (schema 1): ``params``, ``flops``, ``memory`` and
    ``time`` with the required keys first, plus the documented extras (docs/llm.md).
    """

    spec: TransformerSpec
    settings: Settings
    params: ParamCounts
    flops: FlopsPlan
    memory: MemoryPlan
    time: TimePlan
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: ints for counts and bytes, floats for seconds and rates."""
        return {
            "schema": SCHEMA,
            "model": {
                "name": self.spec.name,
                "source": self.spec.source,
                "description": self.spec.describe(),
                "spec": asdict(self.spec),
            },
            "settings": asdict(self.settings),
            "params": self.params.to_dict(),
            "flops": _flops_dict(self.flops),
            "memory": _memory_dict(self.memory),
            "time": _time_dict(self.time),
            "notes": list(self.notes),
        }


def _flops_dict(flops: FlopsPlan) -> dict[str, Any]:
    forward = flops.forward
    return {
        "forward_per_token": flops.forward_per_token,
        "training_per_token": flops.training_per_token,
        "training_total": flops.training_total,
        "convention": "matmul",
        "attention_square": forward.attention_square,
        "seq": forward.seq,
        "forward_per_sequence": forward.total,
        "forward_per_token_parts": {
            part: forward.part_per_token(part)
            for part in ("projections", "attention", "mlp", "lm_head")
        },
        "training_per_step": flops.training_per_step,
        "hardware_per_token": flops.hardware_per_token,
        "hardware_per_step": flops.hardware_per_step,
        "hardware_total": flops.hardware_total,
        "decode_per_token": flops.decode_per_token,
        "approximations": [
            {
                "name": row.name,
                "formula": row.formula,
                "per_token": row.per_token,
                "reference_per_token": row.reference_per_token,
                "ratio": row.ratio,
                "source": row.source,
            }
            for row in flops.approximations
        ],
    }


def _memory_dict(memory: MemoryPlan) -> dict[str, Any]:
    return {
        "weights_bytes": memory.weights_bytes,
        "kv_cache_bytes": memory.kv_cache_bytes,
        "activation_bytes": memory.activations.total,
        "optimizer_bytes": memory.train_state.optimizer,
        "per_gpu_bytes": memory.per_gpu,
        "mode": memory.mode,
        "fits": memory.fits,
        "capacity_bytes": memory.capacity_bytes,
        "weights_by_dtype": dict(memory.weights_by_dtype),
        "train": {
            "weights_bytes": memory.train_state.weights,
            "gradient_bytes": memory.train_state.gradients,
            "optimizer_bytes": memory.train_state.optimizer,
            "activation_bytes": memory.activations.total,
            "activation_per_layer_bytes": memory.activations.per_layer,
            "per_gpu_bytes": memory.train_per_gpu,
        },
        "infer": {
            "weights_bytes": memory.infer_weights_per_gpu,
            "kv_cache_bytes": memory.infer_kv_cache_per_gpu,
            "per_gpu_bytes": memory.infer_per_gpu,
        },
    }


def _roofline_dict(phase: Roofline | None) -> dict[str, Any] | None:
    if phase is None:
        return None
    return {
        "seconds": phase.seconds,
        "bound": phase.bound,
        "flops": phase.flops,
        "bytes": phase.bytes,
        "compute_s": phase.compute_s,
        "memory_s": phase.memory_s,
    }


def _time_dict(time: TimePlan) -> dict[str, Any]:
    run = time.training
    return {
        "training_s": run.seconds,
        "hardware": time.hardware,
        "gpus": run.gpus,
        "gpu_hours": run.gpu_hours,
        "pf_days": run.pf_days,
        "mfu": run.mfu,
        "achieved_flops_per_s": run.achieved_flops_per_s,
        "peak_flops_per_s": run.peak_flops_per_s,
        "megatron_estimate_s": run.megatron_estimate_s,
        "inference_gpus": time.inference_gpus,
        "prefill": _roofline_dict(time.prefill),
        "decode": _roofline_dict(time.decode),
        "decode_batch": time.decode_batch,
        "decode_tokens_per_s": time.decode_tokens_per_s,
    }


# ---------------------------------------------------------------------------------------------
# Resolving the inputs


def _resolve_spec(model: str | Path | TransformerSpec) -> TransformerSpec:
    return model if isinstance(model, TransformerSpec) else load_spec(model)


def _resolve_hardware(hardware: str | AcceleratorLike) -> AcceleratorLike:
    if not isinstance(hardware, str):
        return hardware
    from flopwise.hardware import get_accelerator  # imported on use: the catalogue is data

    return get_accelerator(hardware)


def _accelerator_id(accelerator: AcceleratorLike) -> str:
    """The catalogue id (``a100-80gb``) when there is one, else the display name."""
    return str(getattr(accelerator, "id", accelerator.name))


def _resolve_layout(gpus: int | None, tp: int, pp: int, dp: int | None) -> tuple[int, int]:
    """(gpus, dp) from the parallel sizes: gpus = tp · pp · dp."""
    if tp < 1 or pp < 1 or (dp is not None and dp < 1) or (gpus is not None and gpus < 1):
        raise UsageError(f"--gpus, --tp, --pp and --dp must be at least 1 "
                         f"(tp={tp}, pp={pp}, dp={dp}, gpus={gpus})")
    model_parallel = tp * pp
    if gpus is None:
        dp = 1 if dp is None else dp
        return model_parallel * dp, dp
    if dp is None:
        if gpus % model_parallel:
            raise UsageError(
                f"--gpus {gpus} is not a multiple of tp·pp = {model_parallel}; "
                "choose --gpus as tp·pp·dp"
            )
        return gpus, gpus // model_parallel
    if gpus != model_parallel * dp:
        raise UsageError(f"--gpus {gpus} != tp·pp·dp = {tp}·{pp}·{dp}; give consistent sizes")
    return gpus, dp


def _resolve_seq(spec: TransformerSpec, seq: int | None, notes: list[str]) -> int:
    limit = spec.max_positions
    if seq is None:
        return min(DEFAULT_SEQ, limit) if limit else DEFAULT_SEQ
    if seq <= 0:
        raise UsageError(f"--seq must be positive, got {seq}")
    if limit and seq > limit:
        if spec.learned_positions:
            raise UsageError(
                f"--seq {seq} exceeds the {limit} learned positions of {spec.name}; "
                f"use --seq {limit} or less"
            )
        notes.append(f"seq {seq} is beyond the {limit} positions {spec.name} was trained for")
    return seq


def _check_inputs(batch: int, mode: str, attention: str, recompute: str, dtype: str, kv_dtype: str) -> None:
    if batch < 1:
        raise UsageError(f"--batch must be at least 1, got {batch}")
    check_choice(mode, MODES, "--mode")
    check_choice(attention, ATTENTION_SQUARES, "--attention")
    check_choice(recompute, RECOMPUTE, "--recompute")
    check_dtype(dtype)
    check_dtype(kv_dtype, "--kv-dtype")


# ---------------------------------------------------------------------------------------------
# The sections


def _plan_flops(
    spec: TransformerSpec, settings: Settings, counts: ParamCounts
) -> FlopsPlan:
    seq, recompute = settings.seq, settings.recompute
    forward = forward_flops(spec, seq, 1, settings.attention)
    forward_per_token = forward.per_token
    hardware_per_sequence = hardware_training_flops(forward, recompute)
    full_recompute_per_token = hardware_training_flops(forward, "full") // seq
    hardware_per_token = hardware_per_sequence // seq
    sequences = settings.batch * settings.dp
    return FlopsPlan(
        forward=forward,
        forward_per_token=forward_per_token,
        training_per_token=3 * forward_per_token,
        hardware_per_token=hardware_per_token,
        training_per_step=3 * forward.total * sequences,
        hardware_per_step=hardware_per_sequence * sequences,
        training_total=3 * forward_per_token * settings.tokens,
        hardware_total=hardware_per_token * settings.tokens,
        decode_per_token=decode_flops_per_token(spec, seq) if spec.decoder else None,
        approximations=approximations(
            spec, seq, 3 * forward_per_token, full_recompute_per_token, counts
        ),
    )


def _plan_memory(
    spec: TransformerSpec, settings: Settings, counts: ParamCounts, capacity: int
) -> MemoryPlan:
    s = settings
    model_parallel = s.tp * s.pp
    return MemoryPlan(
        weights_bytes=weights_bytes(counts.total, s.dtype),
        weights_by_dtype=weights_by_dtype(counts.total),
        kv_cache_bytes=kv_cache_bytes(spec, s.batch, s.seq, s.kv_dtype),
        train_state=model_state_bytes(
            counts.total, s.training_dtype, zero=s.zero, tp=s.tp, pp=s.pp, dp=s.dp
        ),
        activations=activation_memory(
            spec, s.seq, s.batch, recompute=s.recompute, tp=s.tp, sp=s.sequence_parallel, pp=s.pp
        ),
        infer_weights_per_gpu=-(-weights_bytes(counts.total, s.dtype) // model_parallel),
        infer_kv_cache_per_gpu=kv_cache_bytes_per_gpu(
            spec, s.batch, s.seq, s.kv_dtype, tp=s.tp, pp=s.pp
        ),
        capacity_bytes=int(capacity),
        mode=s.mode,
    )


def _params_read(spec: TransformerSpec, counts: ParamCounts, tokens: int) -> int:
    """Weights a forward pass over ``tokens`` tokens reads: a mixture of experts reads at most
    ``tokens · top-k`` of its experts per layer."""
    if not spec.is_moe:
        return counts.total
    # NB: assumes the routed tokens hit as many distinct experts as possible (an upper bound).
    unread = spec.experts - min(spec.experts, tokens * spec.experts_per_token)
    return counts.total - spec.layers * unread * expert_params(spec)


def _plan_time(
    spec: TransformerSpec,
    settings: Settings,
    counts: ParamCounts,
    flops: FlopsPlan,
    accelerator: AcceleratorLike,
) -> TimePlan:
    s = settings
    run = training_time(
        model_flops=flops.training_total,
        hardware_flops=flops.hardware_total,
        tokens=s.tokens,
        params=counts.active,
        gpus=s.gpus,
        peak_flops_per_s=peak_flops_of(accelerator, s.training_dtype),
        mfu=s.mfu,
        achieved_flops_per_s=s.achieved_flops_per_s,
    )
    # NB: one replica of tp GPUs serves the batch; pipeline stages run one after another, so pp
    # adds memory but no speed to a single batch.
    peak = peak_flops_of(accelerator, s.dtype) * s.tp
    bandwidth = float(accelerator.bandwidth_bytes_per_s) * s.tp
    kv = kv_cache_bytes(spec, s.batch, s.seq, s.kv_dtype)
    prompt = forward_flops(spec, s.seq, s.batch, s.attention).total
    prefill_weights = weights_bytes(_params_read(spec, counts, s.batch * s.seq), s.dtype)
    prefill = roofline(prompt, prefill_weights + kv, peak, bandwidth)
    decode = None
    if flops.decode_per_token is not None:
        step_weights = weights_bytes(_params_read(spec, counts, s.batch), s.dtype)
        decode = roofline(flops.decode_per_token * s.batch, step_weights + kv, peak, bandwidth)
    return TimePlan(
        hardware=_accelerator_id(accelerator),
        training=run,
        inference_gpus=s.tp,
        prefill=prefill,
        decode=decode,
        decode_batch=s.batch,
    )


def _notes(spec: TransformerSpec, settings: Settings, given: dict[str, bool]) -> list[str]:
    notes: list[str] = []
    if not given["tokens"]:
        notes.append(
            f"tokens: {CHINCHILLA_TOKENS_PER_PARAM} per parameter (Chinchilla-optimal); "
            "set --tokens for your run"
        )
    if not given["rate"]:
        notes.append(f"time assumes {DEFAULT_MFU:.0%} MFU; set --mfu or --achieved-tflops")
    if not given["hardware"]:
        notes.append(f"hardware: {DEFAULT_HARDWARE} (default); set --hardware")
    if settings.training_dtype != settings.dtype:
        notes.append(f"training is planned in {settings.training_dtype} ({settings.dtype} is for inference)")
    if spec.causal:
        square = (
            "counted full (s×s, what dense kernels compute)"
            if settings.attention == "full"
            else "counted causal (only unmasked query/key pairs)"
        )
        notes.append(f"causal attention square {square}")
    return notes


def plan(
    model: str | Path | TransformerSpec,
    *,
    seq: int | None = None,
    batch: int = 1,
    dtype: str = "bf16",
    kv_dtype: str | None = None,
    tokens: int | None = None,
    gpus: int | None = None,
    hardware: str | AcceleratorLike | None = None,
    mfu: float | None = None,
    achieved_tflops: float | None = None,
    recompute: str = "none",
    zero: int = 0,
    tp: int = 1,
    pp: int = 1,
    dp: int | None = None,
    sequence_parallel: bool = False,
    mode: str = "train",
    attention: str = "full",
) -> LLMPlan:
    """Plan a transformer: parameters, FLOPs, memory and time.

    ``model`` is a preset name, a path to a Hugging Face ``config.json`` or a
    :class:`TransformerSpec`. ``seq`` is the context (default 2048, or the model's positions
    if fewer); ``batch`` the micro-batch of sequences per model replica; ``tokens`` the
    training run's tokens (default 20 per parameter). ``gpus = tp · pp · dp``. Time uses
    ``mfu`` (default 0.4) or ``achieved_tflops`` (TFLOP/s per GPU, recomputation included).
    ``mode`` picks which per-GPU total ``memory.per_gpu`` and ``memory.fits`` report.

    >>> result = plan("gpt-3-175b", tokens=300 * 10**9, gpus=1024, hardware="a100-80gb",
    ...               achieved_tflops=140, recompute="full")
    >>> round(result.time.training.megatron_estimate_s / 86400, 1)   # Narayanan et al.: ~34 days
    33.8
    """
    spec = _resolve_spec(model)
    notes: list[str] = []
    kv_dtype = kv_dtype or (dtype if dtype in ("fp32", "bf16", "fp16", "fp8") else "bf16")
    _check_inputs(batch, mode, attention, recompute, dtype, kv_dtype)
    if mfu is not None and achieved_tflops is not None:
        raise UsageError("give --mfu or --achieved-tflops, not both")
    counts = count_params(spec)
    total_gpus, dp_size = _resolve_layout(gpus, tp, pp, dp)
    if tokens is not None and tokens <= 0:
        raise UsageError(f"--tokens must be positive, got {tokens}")
    accelerator = _resolve_hardware(hardware if hardware is not None else DEFAULT_HARDWARE)
    settings = Settings(
        seq=_resolve_seq(spec, seq, notes),
        batch=batch,
        dtype=dtype,
        kv_dtype=kv_dtype,
        training_dtype=training_dtype(dtype),
        tokens=tokens if tokens is not None else CHINCHILLA_TOKENS_PER_PARAM * counts.total,
        tokens_given=tokens is not None,
        gpus=total_gpus,
        tp=tp,
        pp=pp,
        dp=dp_size,
        zero=zero,
        recompute=recompute,
        sequence_parallel=sequence_parallel,
        mode=mode,
        attention=attention,
        hardware=_accelerator_id(accelerator),
        mfu=DEFAULT_MFU if mfu is None and achieved_tflops is None else mfu,
        achieved_flops_per_s=None if achieved_tflops is None else achieved_tflops * 1e12,
    )
    flops = _plan_flops(spec, settings, counts)
    given = {"tokens": tokens is not None, "rate": mfu is not None or achieved_tflops is not None,
             "hardware": hardware is not None}
    return LLMPlan(
        spec=spec,
        settings=settings,
        params=counts,
        flops=flops,
        memory=_plan_memory(spec, settings, counts, accelerator.memory_bytes),
        time=_plan_time(spec, settings, counts, flops, accelerator),
        notes=tuple(notes + _notes(spec, settings, given)),
    )


def sweep(
    model: str | Path | TransformerSpec, key: str, values: Sequence[int], **options: Any
) -> tuple[LLMPlan, ...]:
    """One plan per value of ``seq`` or ``batch``; every other option stays fixed.

    >>> [p.flops.forward_per_token for p in sweep("gpt2", "seq", [512, 1024])]
    [265938432, 284812800]
    """
    check_choice(key, SWEEP_KEYS, "--sweep")
    if not values:
        raise UsageError("--sweep needs at least one value, e.g. --sweep seq=512,1024,2048")
    return tuple(plan(model, **{**options, key: value}) for value in values)
