"""Pipeline stages by layer, each counted as its rank runs it: the ``pp`` recipe.

The decoder layers of a Hugging Face causal LM are split into ``pp`` contiguous stages, as
torchtitan splits Llama by hand: stage 0 also holds the embedding, the last stage the final norm
and the head; with l layers over p stages the first l mod p stages get one layer more. Each
stage is a module of its own (:class:`_Stage`) that *shares* the model's submodules (nothing is
copied and the model is not changed); ``fsdp`` with ``pp`` shards each stage's blocks and then
the stage over the ``dp`` mesh dimension, as torchtitan does per model chunk.

Each stage runs one micro-batch forward and backward under :func:`flopwise.profile` (fake
tensors: shapes only), so its FLOPs are counted, not estimated. The tensor a stage sends forward
is its output activation, and the gradient it sends back has the shape of its input, so the
point-to-point bytes per micro-batch are b·s·h·(bytes per element), each way, per boundary.

# NB: torch's own runtime (``torch.distributed.pipelining``: ``PipelineStage`` and
# ``Schedule1F1B``) is not used to run the stages. In torch 2.14 its schedules refuse the fake
# process group unless every stage's shapes are given, and then the first stage's backward
# fails (the fake ``recv`` delivers no output gradient); a schedule also runs all micro-batches'
# forwards and backwards inside one call, which would mix the phases of the count. The
# schedule's effect is taken from its formula instead (:mod:`.pipeline_section`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

import flopwise
from flopwise.distributed.pipeline_section import PipelineSection, StageCost
from flopwise.errors import UsageError

__all__ = ["split_layers", "build_stages", "profile_pipeline", "shard_stage", "StageTiming"]


def split_layers(layers: int, stages: int) -> list[tuple[int, int]]:
    """(first layer, layer count) per stage: contiguous, the first ``layers % stages`` one more.

    >>> split_layers(10, 4)
    [(0, 3), (3, 3), (6, 2), (8, 2)]
    """
    if not 1 <= stages <= layers:
        raise UsageError(f"pp={stages} stages cannot split {layers} decoder layers; use a pp "
                         f"between 1 and {layers}")
    size, extra = divmod(layers, stages)
    split, first = [], 0
    for stage in range(stages):
        count = size + (1 if stage < extra else 0)
        split.append((first, count))
        first += count
    return split


class _Stage(torch.nn.Module):
    """One pipeline stage of a Hugging Face decoder: its layers, and the embedding (first
    stage) or the final norm and head (last stage); the modules are the model's own."""

    def __init__(self, model: Any, first: int, count: int, stages: int, stage: int) -> None:
        super().__init__()
        body = model.model
        self.embed_tokens = body.embed_tokens if stage == 0 else None
        self.layers = torch.nn.ModuleList(body.layers[first:first + count])
        self.rotary_emb = getattr(body, "rotary_emb", None)
        last = stage == stages - 1
        self.norm = body.norm if last else None
        self.lm_head = model.lm_head if last else None

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.embed_tokens is not None:
            hidden = self.embed_tokens(hidden)
        positions = torch.arange(hidden.shape[1], device=hidden.device).unsqueeze(0)
        extra: dict[str, Any] = {"position_ids": positions}
        if self.rotary_emb is not None:
            extra["position_embeddings"] = self.rotary_emb(hidden, positions)
        for layer in self.layers:
            # NB: no attention mask: the attention is causal over the whole micro-batch (SDPA's
            # is_causal), as the model's own causal mask makes it without padding
            out = layer(hidden, attention_mask=None, **extra)
            hidden = out[0] if isinstance(out, tuple) else out
        if self.lm_head is not None and self.norm is not None:
            hidden = self.lm_head(self.norm(hidden))
        return hidden


def build_stages(model: Any, stages: int) -> list[torch.nn.Module]:
    """The ``stages`` pipeline stages of a Hugging Face decoder (sharing its modules)."""
    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if layers is None or not hasattr(body, "embed_tokens") or not hasattr(model, "lm_head"):
        raise UsageError(
            f"pp needs a Hugging Face decoder with model.embed_tokens, model.layers and lm_head "
            f"(Llama, Mistral, Qwen2, Mixtral), got {type(model).__name__}")
    return [_Stage(model, first, count, stages, stage)
            for stage, (first, count) in enumerate(split_layers(len(layers), stages))]


def _stage_input(stage: int, tokens: torch.Tensor, hidden: int, dtype: torch.dtype
                 ) -> torch.Tensor:
    """Stage 0 reads token ids; a later stage the previous one's activation (which needs a
    gradient: it is what that stage sends back)."""
    if stage == 0:
        return tokens
    return torch.zeros(*tokens.shape, hidden, dtype=dtype, requires_grad=True)


def _stage_cost(index: int, first: int, count: int, report: Any, send_bytes: int,
                time_s: float | None) -> StageCost:
    phases = report.phases
    forward = phases["forward"].flops
    backward = phases["backward"].flops if "backward" in phases else 0
    return StageCost(index, first, count, report.total.params, forward, backward, send_bytes,
                     time_s)


def profile_pipeline(
    model: Any, tokens: torch.Tensor, stages: int, micro_batches: int | None = None, *,
    shard: Callable[[torch.nn.Module], Any] | None = None, convention: str = "standard",
    strict: bool = False, timing: StageTiming | None = None, name: str | None = None,
) -> Any:
    """Count each of ``stages`` stages of ``model`` on one micro-batch of ``tokens``.

    Returns the first stage's report (what rank 0 runs for one micro-batch, forward and
    backward) with a ``pipeline`` section (:class:`PipelineSection`) describing every stage.
    ``micro_batches`` (default: one sequence each) must divide the batch; ``shard`` is applied
    to each stage first (FSDP); with ``timing`` each stage and transfer is timed.
    """
    batch = tokens.shape[0]
    micro_batches = micro_batches or batch
    if micro_batches < 1 or batch % micro_batches:
        raise UsageError(f"--micro-batches {micro_batches} does not divide the batch of {batch} "
                         "sequences; pick a divisor of the first input dimension")
    modules = build_stages(model, stages)
    micro = tokens[: batch // micro_batches]
    hidden = int(model.config.hidden_size)
    dtype = model.model.embed_tokens.weight.dtype
    boundary = micro.numel() * hidden * torch.empty((), dtype=dtype).element_size()
    split = split_layers(len(model.model.layers), stages)
    costs, reports = [], []
    for index, module in enumerate(modules):
        if shard is not None:
            shard(module)
        # NB: the backward starts from output.sum() (flopwise.profile's default), where a real
        # stage starts from the gradient it receives: the sum's b·s·h additions are counted
        report = flopwise.profile(module, _stage_input(index, micro, hidden, dtype),
                                  backward=True, convention=convention, strict=strict,
                                  name=f"{name or type(model).__name__} stage {index}")
        sends = (index < stages - 1) + (index > 0)
        costs.append(_stage_cost(index, *split[index], report, sends * boundary,
                                 timing.stage_s(report) if timing else None))
        reports.append(report)
    section = PipelineSection("1F1B", micro_batches, batch // micro_batches, boundary,
                              reports[0].convention.name, tuple(costs),
                              timing.accelerator.id if timing else None,
                              timing.send_s(boundary) if timing else None)
    return reports[0].with_section(section)


def shard_stage(mesh: Any) -> Callable[[torch.nn.Module], None]:
    """FSDP2 for one stage: ``fully_shard`` on each of its blocks, then on the stage."""
    from torch.distributed.fsdp import fully_shard

    def apply(stage: torch.nn.Module) -> None:
        assert isinstance(stage, _Stage)
        for layer in stage.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(stage, mesh=mesh)

    return apply


@dataclass(frozen=True)
class StageTiming:
    """How stages and transfers are timed: the roofline on ``accelerator`` for a stage, the
    α–β model for a send between neighbouring stages placed as the planner places the ``pp``
    group of a mesh of ``sizes`` (:func:`flopwise.hardware.interconnect.place_group`)."""

    accelerator: Any
    sizes: Mapping[str, int]
    compute_efficiency: float = 1.0
    memory_efficiency: float = 1.0

    def stage_s(self, report: Any) -> float:
        estimate = report.with_roofline(self.accelerator,
                                        compute_efficiency=self.compute_efficiency,
                                        memory_efficiency=self.memory_efficiency).roofline
        return float(estimate.time_s)

    def send_s(self, payload_bytes: int) -> float:
        from flopwise.hardware.comm import Collective, collective_time
        from flopwise.hardware.interconnect import GroupPlacement, cluster_for, place_group

        cluster = cluster_for(self.accelerator)
        group = place_group("pp", {"tp": 1, "dp": 1, **dict(self.sizes)}, cluster)
        neighbours = GroupPlacement(2, 2 if group.ranks_per_node > 1 else 1)
        return collective_time(Collective.SEND_RECV, payload_bytes, neighbours, cluster).seconds
