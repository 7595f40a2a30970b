"""Plan search: every parallel layout of a model on N GPUs, ranked by step time with communication.

The search enumerates tensor parallelism (powers of two up to a node, dividing the heads),
pipeline parallelism (powers of two up to the layers), data parallelism (the rest), ZeRO stage
0–3 (3 = FSDP), activation recomputation and the micro-batch size; the global batch is fixed,
so the number of micro-batches follows. Layouts that cannot split the model or the batch are
skipped, layouts that do not fit the accelerator's memory are dropped, and the rest are ranked
by :func:`~flopwise.llm.parallel.step_time` (ties: less memory first).

>>> from flopwise.llm.config import load_spec
>>> result = search(load_spec("llama-2-7b"), gpus=64, hardware="h100-sxm", seq=4096)
>>> best = result.best
>>> best.layout.gpus, best.memory.fits
(64, True)
>>> result.considered == result.fitting + result.too_big
True
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError
from flopwise.hardware.interconnect import Cluster, get_cluster
from flopwise.llm.config import TransformerSpec
from flopwise.llm.flops import RECOMPUTE
from flopwise.llm.memory import ZERO_STAGES
from flopwise.llm.parallel import (
    DEFAULT_COMPUTE_EFFICIENCY,
    DEFAULT_OVERLAP,
    Layout,
    StepTime,
    step_time,
)

__all__ = [
    "DEFAULT_TOKENS_PER_STEP",
    "MICRO_BATCHES",
    "SearchResult",
    "default_global_batch",
    "candidate_layouts",
    "search",
]

#: Default global batch: about 4 Mi tokens per step (GPT-3 175B used 3.2 M, Llama 2 4 M).
DEFAULT_TOKENS_PER_STEP = 4 * 2**20
#: Micro-batch sizes (sequences) the search tries.
MICRO_BATCHES: tuple[int, ...] = (1, 2, 4, 8)


def default_global_batch(seq: int, gpus: int) -> int:
    """Sequences per step: about 4 Mi tokens, at least one per GPU.

    >>> default_global_batch(2048, 1024), default_global_batch(8192, 16384)
    (2048, 16384)
    """
    return max(DEFAULT_TOKENS_PER_STEP // seq, gpus, 1)


def _powers_of_two(limit: int) -> list[int]:
    values, value = [], 1
    while value <= limit:
        values.append(value)
        value *= 2
    return values


def _tp_sizes(spec: TransformerSpec, gpus: int, cluster: Cluster) -> list[int]:
    return [
        tp for tp in _powers_of_two(min(cluster.gpus_per_node, gpus))
        if gpus % tp == 0 and spec.heads % tp == 0
        and (spec.kv_heads % tp == 0 or tp % spec.kv_heads == 0)
    ]


def candidate_layouts(spec: TransformerSpec, gpus: int, global_batch: int, cluster: Cluster) -> list[Layout]:
    """Every layout the search times: sizes that split the GPUs, heads, layers and batch.

    >>> from flopwise.hardware.interconnect import cluster_for
    >>> from flopwise.llm.config import load_spec
    >>> layouts = candidate_layouts(load_spec("gpt2"), 8, 64, cluster_for("a100-80gb"))
    >>> len(layouts)   # 9 (tp, pp) pairs with tp·pp ≤ 8 (12 heads: tp ≤ 4); dp = 1 in 3 of them
    ...                # (ZeRO-0 only): (6·4 + 3·1) ZeRO choices × 3 recompute × 4 micro-batches
    324
    """
    layouts = []
    for tp in _tp_sizes(spec, gpus, cluster):
        for pp in _powers_of_two(min(spec.layers, gpus // tp)):
            if gpus % (tp * pp):
                continue
            dp = gpus // (tp * pp)
            for zero, recompute, micro in product(ZERO_STAGES, RECOMPUTE, MICRO_BATCHES):
                if zero and dp == 1 or global_batch % (dp * micro):
                    continue
                layouts.append(Layout(tp=tp, pp=pp, dp=dp, zero=zero, recompute=recompute,
                                      micro_batch=micro, micro_batches=global_batch // (dp * micro)))
    return layouts


@dataclass(frozen=True)
class SearchResult:
    """The ranked layouts that fit (fastest first) and what was dropped."""

    model: str
    gpus: int
    seq: int
    global_batch: int
    overlap: str
    cluster: Cluster
    ranked: tuple[StepTime, ...]
    considered: int
    too_big: int
    smallest_too_big: StepTime | None

    @property
    def fitting(self) -> int:
        """Layouts that fit the accelerator's memory."""
        return len(self.ranked)

    @property
    def best(self) -> StepTime:
        """The fastest layout that fits; a UsageError when none does."""
        if not self.ranked:
            nearest = self.smallest_too_big
            detail = (f"; the smallest needs {nearest.memory.total / 2**30:.1f} GiB of "
                      f"{nearest.memory.capacity / 2**30:.1f} GiB ({nearest.layout.describe()})"
                      if nearest else "")
            raise UsageError(
                f"no layout of {self.model} on {self.gpus} GPUs fits{detail}; add GPUs, "
                "shorten --seq or pick hardware with more memory"
            )
        return self.ranked[0]

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        """JSON-ready: the search's settings, its counts and the best ``top`` layouts."""
        rows = self.ranked if top is None else self.ranked[:top]
        return {
            "schema": "flopwise.llm-search/1",
            "model": self.model,
            "gpus": self.gpus,
            "seq": self.seq,
            "global_batch": self.global_batch,
            "overlap": self.overlap,
            "cluster": self.cluster.to_dict(),
            "considered": self.considered,
            "fitting": self.fitting,
            "too_big": self.too_big,
            "plans": [row.to_dict() for row in rows],
        }


def search(
    spec: TransformerSpec,
    *,
    gpus: int,
    hardware: str = "h100-sxm",
    cluster: str | Path | Cluster | None = None,
    seq: int = 2048,
    global_batch: int | None = None,
    dtype: str = "bf16",
    overlap: str = DEFAULT_OVERLAP,
    compute_efficiency: float = DEFAULT_COMPUTE_EFFICIENCY,
    attention: str = "full",
    layouts: list[Layout] | None = None,
) -> SearchResult:
    """Time every candidate layout (or the given ``layouts``) and rank those that fit.

    ``cluster`` is a cluster file or record; without one the catalogue's usual cluster of
    ``hardware`` is used. ``global_batch`` is in sequences (default
    :func:`default_global_batch`).
    """
    if gpus < 1:
        raise UsageError(f"--gpus must be at least 1, got {gpus}")
    where = cluster if isinstance(cluster, Cluster) else get_cluster(cluster, hardware)
    batch = default_global_batch(seq, gpus) if global_batch is None else global_batch
    if batch < 1:
        raise UsageError(f"--global-batch must be at least 1, got {batch}")
    candidates = candidate_layouts(spec, gpus, batch, where) if layouts is None else layouts
    if not candidates:
        raise UsageError(
            f"no layout splits {spec.name} and a global batch of {batch} sequences over {gpus} "
            "GPUs; use a --global-batch divisible by the data-parallel size"
        )
    steps = [step_time(spec, layout, where, seq=seq, dtype=dtype, overlap=overlap,
                       compute_efficiency=compute_efficiency, attention=attention)
             for layout in candidates]
    fitting = sorted((s for s in steps if s.memory.fits), key=lambda s: (s.step_s, s.memory.total))
    too_big = [s for s in steps if not s.memory.fits]
    return SearchResult(
        model=spec.name,
        gpus=gpus,
        seq=seq,
        global_batch=batch,
        overlap=overlap,
        cluster=where,
        ranked=tuple(fitting),
        considered=len(steps),
        too_big=len(too_big),
        smallest_too_big=min(too_big, key=lambda s: s.memory.total, default=None),
    )
