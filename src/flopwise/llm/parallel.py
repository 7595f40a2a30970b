"""Step time of one parallel layout: compute + communication under an overlap model.

A *layout* splits a training step over ``tp · pp · dp`` GPUs: tensor parallelism (Megatron-style,
with sequence parallelism), a non-interleaved 1F1B pipeline of ``pp`` stages fed ``m``
micro-batches of ``b`` sequences, and ``dp`` data-parallel replicas whose state is sharded by
ZeRO stage 1–3 (stage 3 is FSDP). For the busiest rank the planner lists every collective of a
step (which group, which collective, payload, calls per step) and times each with the α–β
model of :mod:`flopwise.hardware.comm`; compute is hardware FLOPs over the peak times a
matmul efficiency. The step is

    step = (compute + exposed TP comm) · (1 + (p−1)/(v·m)) + exposed PP comm + exposed DP comm

where (p−1)/(v·m) is the pipeline bubble of Narayanan et al. 2021 (v = 1: non-interleaved).
What is exposed depends on the overlap model: ``none`` (nothing overlaps: an upper bound),
``overlap`` (DDP's gradient buckets overlap the last backward, FSDP prefetches the next block's
parameters during the current block's compute; tensor-parallel and pipeline transfers stay on
the critical path) and ``perfect`` (every transfer hides behind compute until it is longer
than the compute: a lower bound).

>>> from flopwise.hardware.interconnect import cluster_for
>>> from flopwise.llm.config import load_spec
>>> layout = Layout(tp=8, pp=1, dp=8, zero=1, recompute="selective", micro_batch=1, micro_batches=16)
>>> step = step_time(load_spec("llama-3-8b"), layout, cluster_for("h100-sxm"), seq=8192)
>>> step.layout.gpus, step.tokens_per_step              # 8 · 1 · 8 GPUs; 8192 · 1 · 16 · 8
(64, 1048576)
>>> 0 < step.mfu < 0.8 and step.memory.fits
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flopwise.errors import UsageError
from flopwise.hardware.comm import Collective, CommTime, bytes_sent_per_rank, collective_time
from flopwise.hardware.interconnect import Cluster, GroupPlacement, place_group
from flopwise.llm.config import TransformerSpec
from flopwise.llm.flops import RECOMPUTE, check_choice, forward_flops, hardware_training_flops
from flopwise.llm.memory import (
    TRAINING_PRECISION,
    ZERO_STAGES,
    activation_memory,
    model_state_bytes,
    training_dtype,
)
from flopwise.llm.params import ParamCounts, count_params
from flopwise.llm.timing import peak_flops_of

__all__ = [
    "OVERLAPS",
    "DEFAULT_OVERLAP",
    "DEFAULT_COMPUTE_EFFICIENCY",
    "DDP_BUCKET_BYTES",
    "Layout",
    "CommVolume",
    "StepMemory",
    "StepTime",
    "bubble_fraction",
    "check_layout",
    "comm_volumes",
    "step_time",
]

OVERLAPS: tuple[str, ...] = ("none", "overlap", "perfect")
DEFAULT_OVERLAP = "overlap"

#: Fraction of the dense peak large training matmuls reach. NB: one figure for the whole step;
#: a bf16 GEMM on an H200 measured about 790 of 989 TFLOP/s (0.8) in this project's device
#: notes, and smaller or attention-bound shapes do worse.
DEFAULT_COMPUTE_EFFICIENCY = 0.8

#: PyTorch DDP's default gradient bucket (``bucket_cap_mb=25``); two are in flight.
DDP_BUCKET_BYTES = 25 * 2**20


@dataclass(frozen=True)
class Layout:
    """One way to split a training step: sizes, ZeRO stage (3 = FSDP), recomputation and
    ``micro_batches`` micro-batches of ``micro_batch`` sequences per replica.

    ``sequence_parallel`` applies when ``tp > 1``; ``virtual_stages`` > 1 is the interleaved
    schedule (each rank holds that many model chunks).
    """

    tp: int
    pp: int
    dp: int
    zero: int
    recompute: str
    micro_batch: int
    micro_batches: int
    sequence_parallel: bool = True
    virtual_stages: int = 1

    @property
    def gpus(self) -> int:
        """tp · pp · dp."""
        return self.tp * self.pp * self.dp

    @property
    def global_batch(self) -> int:
        """Sequences per step: micro_batch · micro_batches · dp."""
        return self.micro_batch * self.micro_batches * self.dp

    @property
    def sp(self) -> bool:
        """Whether sequence parallelism is on (it needs tensor parallelism)."""
        return self.sequence_parallel and self.tp > 1

    def describe(self) -> str:
        """``'tp 8 · pp 4 · dp 32 · ZeRO-1 · recompute selective · 1 × 16 micro-batches'``."""
        zero = "FSDP (ZeRO-3)" if self.zero == 3 else f"ZeRO-{self.zero}"
        interleave = f" · {self.virtual_stages} chunks" if self.virtual_stages > 1 else ""
        return (f"tp {self.tp} · pp {self.pp} · dp {self.dp} · {zero} · recompute "
                f"{self.recompute} · {self.micro_batch} × {self.micro_batches} micro-batches"
                f"{interleave}")

    def to_dict(self) -> dict[str, Any]:
        """The layout as JSON-ready values."""
        return {
            "tp": self.tp, "pp": self.pp, "dp": self.dp, "gpus": self.gpus, "zero": self.zero,
            "recompute": self.recompute, "micro_batch": self.micro_batch,
            "micro_batches": self.micro_batches, "global_batch": self.global_batch,
            "sequence_parallel": self.sp, "virtual_stages": self.virtual_stages,
        }


def bubble_fraction(pp: int, micro_batches: int, virtual_stages: int = 1) -> float:
    """Pipeline bubble over the ideal time, (p−1)/(v·m) (Narayanan et al. 2021, §2.2).

    >>> bubble_fraction(8, 32), bubble_fraction(8, 32, virtual_stages=2)   # 7/32, 7/64
    (0.21875, 0.109375)
    """
    return (pp - 1) / (virtual_stages * micro_batches)


def check_layout(spec: TransformerSpec, layout: Layout) -> None:
    """Raise a one-line UsageError when the model cannot be split this way."""
    if min(layout.tp, layout.pp, layout.dp, layout.micro_batch, layout.micro_batches,
           layout.virtual_stages) < 1:
        raise UsageError(f"every layout size must be at least 1, got {layout.describe()}")
    if layout.zero not in ZERO_STAGES:
        raise UsageError(f"--zero must be 0, 1, 2 or 3, got {layout.zero}")
    check_choice(layout.recompute, RECOMPUTE, "--recompute")
    if spec.heads % layout.tp:
        raise UsageError(f"tp {layout.tp} does not divide the {spec.heads} attention heads of "
                         f"{spec.name}; choose a tp that does")
    if spec.kv_heads % layout.tp and layout.tp % spec.kv_heads:
        raise UsageError(f"tp {layout.tp} neither divides nor is a multiple of the "
                         f"{spec.kv_heads} key/value heads of {spec.name}; choose another tp")
    if layout.pp * layout.virtual_stages > spec.layers:
        raise UsageError(f"pp {layout.pp} × {layout.virtual_stages} chunks exceeds the "
                         f"{spec.layers} layers of {spec.name}; use a smaller --pp")


@dataclass(frozen=True)
class CommVolume:
    """One collective the busiest rank runs ``count`` times per step on the ``dimension`` group
    (``tp``, ``pp``, ``dp``), what it moves (``purpose``), and one call's time."""

    dimension: str
    purpose: str
    time: CommTime
    count: int

    @property
    def collective(self) -> Collective:
        """Which collective."""
        return self.time.kind

    @property
    def payload_bytes(self) -> int:
        """One call's payload (the all-gather's output, the reduce-scatter's input)."""
        return self.time.payload_bytes

    @property
    def bytes_sent(self) -> int:
        """Bytes this rank sends for it per step."""
        return self.time.bytes_sent * self.count

    @property
    def ring_bytes(self) -> int:
        """Bytes this rank sends per step under the flat ring, whatever the placement: what an
        operator counter records (:mod:`flopwise.formulas.comm`)."""
        return bytes_sent_per_rank(self.collective, self.payload_bytes, self.time.ranks) * self.count

    @property
    def seconds(self) -> float:
        """Time per step if nothing overlaps it."""
        return self.time.seconds * self.count

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "dimension": self.dimension, "purpose": self.purpose,
            "collective": self.collective.value, "ranks": self.time.ranks,
            "algorithm": self.time.algorithm, "payload_bytes": self.payload_bytes,
            "count": self.count, "bytes_sent": self.bytes_sent, "ring_bytes": self.ring_bytes,
            "scale_up_bytes": self.time.scale_up_bytes * self.count,
            "scale_out_bytes": self.time.scale_out_bytes * self.count, "seconds": self.seconds,
        }


@dataclass(frozen=True)
class StepMemory:
    """Bytes on the busiest rank: sharded training state, activations, communication buffers."""

    weights: int
    gradients: int
    optimizer: int
    activations: int
    comm_buffers: int
    capacity: int

    @property
    def total(self) -> int:
        """Everything the rank holds at its peak."""
        return self.weights + self.gradients + self.optimizer + self.activations + self.comm_buffers

    @property
    def fits(self) -> bool:
        """Whether the total fits the accelerator's memory."""
        return self.total <= self.capacity

    @property
    def headroom_bytes(self) -> int:
        """Capacity left (negative when it does not fit)."""
        return self.capacity - self.total

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return {
            "weights_bytes": self.weights, "gradient_bytes": self.gradients,
            "optimizer_bytes": self.optimizer, "activation_bytes": self.activations,
            "comm_buffer_bytes": self.comm_buffers, "total_bytes": self.total,
            "capacity_bytes": self.capacity, "headroom_bytes": self.headroom_bytes,
            "fits": self.fits,
        }


@dataclass(frozen=True)
class StepTime:
    """One training step of a layout on a cluster, seconds per part, for the busiest rank."""

    layout: Layout
    overlap: str
    seq: int
    compute_s: float
    tp_exposed_s: float
    pp_exposed_s: float
    dp_comm_s: float
    dp_exposed_s: float
    bubble_s: float
    model_flops: int
    hardware_flops: int
    peak_flops_per_s: float
    compute_efficiency: float
    comm_efficiency: float
    comm: tuple[CommVolume, ...]
    memory: StepMemory

    @property
    def step_s(self) -> float:
        """Seconds per step."""
        return self.compute_s + self.tp_exposed_s + self.bubble_s + self.pp_exposed_s + self.dp_exposed_s

    @property
    def exposed_comm_s(self) -> float:
        """Communication no compute hides (the pipeline bubble not included)."""
        return self.tp_exposed_s + self.pp_exposed_s + self.dp_exposed_s

    @property
    def bubble(self) -> float:
        """The pipeline bubble as a fraction of the ideal time, (p−1)/(v·m)."""
        return bubble_fraction(self.layout.pp, self.layout.micro_batches, self.layout.virtual_stages)

    @property
    def tokens_per_step(self) -> int:
        """Tokens every step trains on: seq · global batch."""
        return self.seq * self.layout.global_batch

    @property
    def tokens_per_s(self) -> float:
        """Training throughput of the whole cluster."""
        return self.tokens_per_step / self.step_s

    @property
    def mfu(self) -> float:
        """Model FLOPs per step over (step time · GPUs · peak)."""
        return self.model_flops / (self.step_s * self.layout.gpus * self.peak_flops_per_s)

    @property
    def comm_bytes_sent(self) -> int:
        """Bytes the busiest rank sends per step, every collective together."""
        return sum(volume.bytes_sent for volume in self.comm)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values: ints for bytes and FLOPs, floats for seconds and rates."""
        return {
            "layout": self.layout.to_dict(),
            "overlap": self.overlap,
            "step_s": self.step_s,
            "compute_s": self.compute_s,
            "exposed_comm_s": self.exposed_comm_s,
            "tp_exposed_s": self.tp_exposed_s,
            "pp_exposed_s": self.pp_exposed_s,
            "dp_comm_s": self.dp_comm_s,
            "dp_exposed_s": self.dp_exposed_s,
            "bubble_s": self.bubble_s,
            "bubble_fraction": self.bubble,
            "mfu": self.mfu,
            "tokens_per_step": self.tokens_per_step,
            "tokens_per_s": self.tokens_per_s,
            "model_flops_per_step": self.model_flops,
            "hardware_flops_per_step": self.hardware_flops,
            "compute_efficiency": self.compute_efficiency,
            "comm_efficiency": self.comm_efficiency,
            "comm_bytes_sent": self.comm_bytes_sent,
            "comm": [volume.to_dict() for volume in self.comm],
            "memory": self.memory.to_dict(),
        }


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _sizes(layout: Layout) -> dict[str, int]:
    return {"tp": layout.tp, "pp": layout.pp, "dp": layout.dp}


def _activation_bytes(spec: TransformerSpec, seq: int, layout: Layout, dtype: str) -> int:
    """One micro-batch's hidden states, b·s·h elements (what TP collectives and PP send)."""
    element = TRAINING_PRECISION[training_dtype(dtype)][0]
    return layout.micro_batch * seq * spec.hidden * element


def _tp_volumes(spec: TransformerSpec, layout: Layout, seq: int, dtype: str,
                group: GroupPlacement, cluster: Cluster) -> list[CommVolume]:
    """Megatron's tensor-parallel collectives on the first stage, per step.

    Without sequence parallelism each layer all-reduces the b·s·h activation twice in the
    forward (after attention, after the MLP) and twice in the backward (before them), two more
    times when full recomputation re-runs the forward; the vocabulary-parallel embedding adds
    one forward all-reduce and the LM head (one-stage pipelines) one backward all-reduce. With
    sequence parallelism every all-reduce becomes a reduce-scatter plus an all-gather of the
    same activation: as many of each, the same bytes.
    """
    if layout.tp == 1:
        return []
    m = layout.micro_batches
    layers = _ceil_div(spec.layers, layout.pp)
    per_layer = 4 + (2 if layout.recompute == "full" else 0)
    head = 1 if layout.pp == 1 and spec.lm_head else 0
    calls = (layers * per_layer + 1 + head) * m
    payload = _activation_bytes(spec, seq, layout, dtype)
    if layout.sp:
        return [
            CommVolume("tp", "activations",
                       collective_time(Collective.ALL_GATHER, payload, group, cluster), calls),
            CommVolume("tp", "activations",
                       collective_time(Collective.REDUCE_SCATTER, payload, group, cluster), calls),
        ]
    return [CommVolume("tp", "activations",
                       collective_time(Collective.ALL_REDUCE, payload, group, cluster), calls)]


def _pp_volumes(spec: TransformerSpec, layout: Layout, seq: int, dtype: str,
                group: GroupPlacement, cluster: Cluster) -> list[CommVolume]:
    """An inner stage sends each micro-batch's activations forward and its gradients back."""
    if layout.pp == 1:
        return []
    payload = _activation_bytes(spec, seq, layout, dtype)
    if layout.sp:
        payload = _ceil_div(payload, layout.tp)  # the boundary tensor is sequence-sharded
    neighbours = GroupPlacement(2, 2 if group.ranks_per_node > 1 else 1)
    sends = 2 * layout.micro_batches * layout.virtual_stages
    return [CommVolume("pp", "activations, gradients",
                       collective_time(Collective.SEND_RECV, payload, neighbours, cluster), sends)]


def _dp_volumes(params_per_rank: int, block_params_per_rank: int, layout: Layout, dtype: str,
                group: GroupPlacement, cluster: Cluster) -> list[CommVolume]:
    """Gradient reduction and parameter gathers over the data-parallel group, per step.

    ZeRO-0 all-reduces the gradients once per step (micro-batches accumulate locally); ZeRO-1
    reduce-scatters them once and all-gathers the updated parameters; ZeRO-2 reduce-scatters
    after every micro-batch's backward (it keeps only its gradient shard); ZeRO-3 (FSDP,
    wrapped per block) also all-gathers the parameters for every micro-batch's forward, and
    the blocks' again for its backward: the root (embeddings, final norm, head) stays gathered
    from its forward to its backward, as FSDP2 keeps the root unsharded after the forward.
    """
    if layout.dp == 1:
        return []
    weight_b, grad_b, _ = TRAINING_PRECISION[training_dtype(dtype)]
    grads, weights = params_per_rank * grad_b, params_per_rank * weight_b
    m = layout.micro_batches
    if layout.zero == 0:
        return [CommVolume("dp", "gradients",
                           collective_time(Collective.ALL_REDUCE, grads, group, cluster), 1)]
    # ZeRO-2 keeps only its gradient shard, so every micro-batch's backward reduce-scatters.
    scatters = 1 if layout.zero == 1 else m
    volumes = [
        CommVolume("dp", "gradients",
                   collective_time(Collective.REDUCE_SCATTER, grads, group, cluster), scatters),
        CommVolume("dp", "parameters",
                   collective_time(Collective.ALL_GATHER, weights, group, cluster),
                   1 if layout.zero < 3 else m),
    ]
    if layout.zero == 3:
        blocks = block_params_per_rank * weight_b
        volumes.append(CommVolume("dp", "block parameters (backward)",
                                  collective_time(Collective.ALL_GATHER, blocks, group, cluster), m))
    return volumes


def comm_volumes(
    spec: TransformerSpec, layout: Layout, cluster: Cluster, *, seq: int, dtype: str = "bf16",
    counts: ParamCounts | None = None,
) -> tuple[CommVolume, ...]:
    """Every collective the busiest rank runs in one step, timed one call at a time.

    >>> from flopwise.hardware.interconnect import cluster_for
    >>> from flopwise.llm.config import load_spec
    >>> layout = Layout(tp=1, pp=1, dp=8, zero=0, recompute="none", micro_batch=1, micro_batches=1)
    >>> [(v.collective.value, v.payload_bytes) for v in comm_volumes(
    ...     load_spec("llama-2-7b"), layout, cluster_for("h100-sxm"), seq=4096)]   # 2 bytes/param
    [('all_reduce', 13476831232)]
    """
    check_layout(spec, layout)
    sizes = _sizes(layout)
    counts = counts or count_params(spec)
    params_per_rank = _ceil_div(counts.total, layout.tp * layout.pp)
    block_params_per_rank = _ceil_div(counts.blocks, layout.tp * layout.pp)
    return tuple(
        _tp_volumes(spec, layout, seq, dtype, place_group("tp", sizes, cluster), cluster)
        + _pp_volumes(spec, layout, seq, dtype, place_group("pp", sizes, cluster), cluster)
        + _dp_volumes(params_per_rank, block_params_per_rank, layout, dtype,
                      place_group("dp", sizes, cluster), cluster)
    )


def _hidden_behind(comm_s: float, window_s: float, blocks: int) -> float:
    """Exposed part of ``comm_s`` spread over ``blocks`` blocks overlapping ``window_s`` of
    compute: the first (or last) block's share can never overlap, the rest overlaps until it
    outlasts the window."""
    first = comm_s / blocks
    return first + max(0.0, comm_s - first - window_s)


def _dp_exposed(volumes: list[CommVolume], layout: Layout, overlap: str, compute_s: float,
                forward_share: float, blocks: int) -> float:
    total = sum(v.seconds for v in volumes)
    if overlap == "none":
        return total
    if overlap == "perfect":
        return max(0.0, total - compute_s)
    per_micro = compute_s / layout.micro_batches
    forward_s, backward_s = per_micro * forward_share, per_micro * (1 - forward_share)
    gathers = sum(v.seconds for v in volumes if v.collective is Collective.ALL_GATHER)
    reductions = total - gathers
    m = layout.micro_batches
    if layout.zero < 3:
        # DDP buckets overlap the last micro-batch's backward (ZeRO-2: every backward); ZeRO-1/2
        # gather the updated parameters during the next step's first forward.
        calls = m if layout.zero == 2 else 1
        return calls * _hidden_behind(reductions / calls, backward_s, blocks) + (
            _hidden_behind(gathers, forward_s, blocks) if gathers else 0.0)
    # FSDP, per micro-batch: the forward gather of block i+1 during block i's forward; the
    # backward gather and the reduce-scatter during the backward.
    forward_gathers = sum(v.seconds for v in volumes if v.purpose == "parameters")
    backward = total - forward_gathers
    return m * (_hidden_behind(forward_gathers / m, forward_s, blocks)
                + _hidden_behind(backward / m, backward_s, blocks))


def _comm_buffers(spec: TransformerSpec, counts: ParamCounts, layout: Layout, seq: int, dtype: str) -> int:
    """FSDP: the gathered current and prefetched block; DDP: two gradient buckets; sequence
    parallelism: one gathered activation; a pipeline: a send and a receive buffer."""
    weight_b = TRAINING_PRECISION[training_dtype(dtype)][0]
    total = 0
    if layout.dp > 1:
        if layout.zero == 3:
            total += 2 * _ceil_div(counts.per_block, layout.tp) * weight_b
        else:
            total += 2 * DDP_BUCKET_BYTES
    activation = _activation_bytes(spec, seq, layout, dtype)
    if layout.sp:
        total += activation
    if layout.pp > 1:
        total += 2 * (_ceil_div(activation, layout.tp) if layout.sp else activation)
    return total


def _memory(spec: TransformerSpec, counts: ParamCounts, layout: Layout, seq: int, dtype: str,
            capacity: int) -> StepMemory:
    state = model_state_bytes(counts.total, dtype, zero=layout.zero, tp=layout.tp,
                              pp=layout.pp, dp=layout.dp)
    acts = activation_memory(spec, seq, layout.micro_batch, recompute=layout.recompute,
                             tp=layout.tp, sp=layout.sp, pp=layout.pp)
    # 1F1B: the first stage holds min(p, m) micro-batches of its L/p layers.
    in_flight = min(layout.pp, layout.micro_batches)
    layers = _ceil_div(spec.layers, layout.pp) * in_flight
    return StepMemory(
        weights=state.weights,
        gradients=state.gradients,
        optimizer=state.optimizer,
        activations=acts.per_layer * layers + acts.outside_layers,
        comm_buffers=_comm_buffers(spec, counts, layout, seq, dtype),
        capacity=int(capacity),
    )


def step_time(
    spec: TransformerSpec,
    layout: Layout,
    cluster: Cluster,
    *,
    seq: int,
    dtype: str = "bf16",
    overlap: str = DEFAULT_OVERLAP,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
    attention: str = "full",
) -> StepTime:
    """One training step of ``layout`` on ``cluster`` for sequences of ``seq`` tokens.

    ``overlap`` is ``none``, ``overlap`` (FSDP prefetch / DDP buckets) or ``perfect``;
    ``compute_efficiency`` the fraction of the dense peak the matmuls reach.
    """
    check_choice(overlap, OVERLAPS, "--overlap")
    if not 0 < compute_efficiency <= 1:
        raise UsageError(f"compute efficiency is a fraction in (0, 1], got {compute_efficiency}")
    counts = count_params(spec)
    volumes = comm_volumes(spec, layout, cluster, seq=seq, dtype=dtype, counts=counts)
    forward = forward_flops(spec, seq, layout.micro_batch, attention)
    hardware_micro = hardware_training_flops(forward, layout.recompute)
    peak = peak_flops_of(cluster.accelerator, training_dtype(dtype))
    m = layout.micro_batches
    compute_s = m * hardware_micro / (layout.tp * layout.pp) / (peak * compute_efficiency)
    by_dim = {dim: [v for v in volumes if v.dimension == dim] for dim in ("tp", "pp", "dp")}
    hides_all = overlap == "perfect"
    tp_exposed = 0.0 if hides_all else sum(v.seconds for v in by_dim["tp"])
    pp_exposed = 0.0 if hides_all else sum(v.seconds for v in by_dim["pp"])
    bubble_s = bubble_fraction(layout.pp, m, layout.virtual_stages) * (compute_s + tp_exposed)
    blocks = _ceil_div(spec.layers, layout.pp)
    dp_exposed = _dp_exposed(by_dim["dp"], layout, overlap, compute_s,
                             forward.total / hardware_micro, blocks)
    replicas = layout.dp * m
    return StepTime(
        layout=layout,
        overlap=overlap,
        seq=seq,
        compute_s=compute_s,
        tp_exposed_s=tp_exposed,
        pp_exposed_s=pp_exposed,
        dp_comm_s=sum(v.seconds for v in by_dim["dp"]),
        dp_exposed_s=dp_exposed,
        bubble_s=bubble_s,
        model_flops=3 * forward.total * replicas,
        hardware_flops=hardware_micro * replicas,
        peak_flops_per_s=peak,
        compute_efficiency=compute_efficiency,
        comm_efficiency=cluster.efficiency,
        comm=volumes,
        memory=_memory(spec, counts, layout, seq, dtype, cluster.accelerator.memory_bytes),
    )
