"""Expert parallelism for mixture-of-experts models: the ``ep`` recipe.

Every fused experts module of a Hugging Face MoE model (Mixtral, Qwen2-MoE, Qwen3-MoE and the
others whose experts hold 3-D ``gate_up_proj`` / ``down_proj`` parameters and are called as
``experts(hidden, top_k_index, top_k_weights)``) is replaced by :class:`ShardedExperts`: its
parameters become DTensors sharded by expert over the ``ep`` mesh dimension
(``distribute_tensor(..., [Shard(0)])``), so each rank holds E/ep experts, and its forward runs
as expert parallelism does (torchtitan's ``ExpertParallel``, DeepSpeed-MoE, GShard):

1. **dispatch** — each of this rank's T tokens goes to its k chosen experts: an all-to-all of
   T·k rows of the hidden size (torch's autograd-aware functional ``all_to_all_single``);
2. the rank's E/ep experts run on the rows they received;
3. **combine** — the results go back to their tokens: a second all-to-all of T·k rows, then each
   token sums its k results weighted by the router.

The backward runs both all-to-alls again, in reverse. With S = T·k·h·(bytes per element) and a
group of ep ranks, each rank sends (ep − 1)/ep · S per all-to-all: 2 per MoE layer forward, 2
backward.

# NB: routing is assumed balanced (fake tensors have no values to route by): every rank sends
# T·k/ep rows to every rank, and each local expert computes T·k/(E/ep) rows (rounded up), so the
# expert FLOPs equal those of the unsharded model for this rank's tokens. Real routing is uneven
# and capacity limits drop or pad tokens; the bytes are then those of the busiest rank.
"""

from __future__ import annotations

from typing import Any

import torch

from flopwise.errors import UsageError

__all__ = ["ShardedExperts", "expert_parallel"]


def _is_fused_experts(module: torch.nn.Module) -> bool:
    params = [getattr(module, name, None) for name in ("gate_up_proj", "down_proj")]
    return all(isinstance(p, torch.nn.Parameter) and p.dim() == 3 for p in params)


def _local(param: Any) -> torch.Tensor:
    """This rank's shard of a DTensor parameter (differentiable)."""
    from torch.distributed.tensor import DTensor

    return param.to_local() if isinstance(param, DTensor) else param


class ShardedExperts(torch.nn.Module):
    """A fused experts module's experts sharded over ``mesh`` (1-D), with all-to-all dispatch
    and combine; a drop-in for HF's ``experts(hidden, top_k_index, top_k_weights)``."""

    act_fn: Any

    def __init__(self, experts: Any, mesh: Any) -> None:
        from torch.distributed.tensor import Shard, distribute_tensor

        super().__init__()
        count, ranks = experts.gate_up_proj.shape[0], mesh.size()
        if count % ranks:
            raise UsageError(f"ep={ranks} does not divide the {count} experts; pick an ep that "
                             "divides the number of experts")
        for name in ("gate_up_proj", "down_proj"):
            weight = getattr(experts, name)
            sharded = distribute_tensor(weight.detach(), mesh, [Shard(0)])
            self.register_parameter(name, torch.nn.Parameter(sharded, weight.requires_grad))
        self.act_fn = experts.act_fn
        self.group = mesh.get_group()

    def _exchange(self, rows: torch.Tensor) -> torch.Tensor:
        from torch.distributed._functional_collectives import all_to_all_single_autograd

        return all_to_all_single_autograd(rows, None, None, self.group)

    def forward(self, hidden: torch.Tensor, top_k_index: torch.Tensor,
                top_k_weights: torch.Tensor) -> torch.Tensor:
        tokens, size = hidden.shape
        k = top_k_index.shape[-1]
        routed = hidden.unsqueeze(1).expand(tokens, k, size).reshape(tokens * k, size)
        received = self._exchange(routed)
        gate_up, down = _local(self.gate_up_proj), _local(self.down_proj)
        local = gate_up.shape[0]
        rows = -(-(tokens * k) // local)
        padded = torch.nn.functional.pad(received, (0, 0, 0, rows * local - tokens * k))
        gate, up = torch.bmm(padded.view(local, rows, size), gate_up.transpose(1, 2)).chunk(2, -1)
        out = torch.bmm(self.act_fn(gate) * up, down.transpose(1, 2))
        back = self._exchange(out.reshape(local * rows, size)[: tokens * k])
        weights = top_k_weights.reshape(tokens, k, 1).to(back.dtype)
        return (back.view(tokens, k, size) * weights).sum(dim=1)


def expert_parallel(model: torch.nn.Module, mesh: Any) -> int:
    """Replace every fused experts module of ``model`` by its sharded form over ``mesh``;
    returns how many were replaced (a :class:`~flopwise.errors.UsageError` if none)."""
    found = [(name, module) for name, module in model.named_modules()
             if _is_fused_experts(module)]
    if not found:
        raise UsageError(f"ep found no mixture-of-experts layers in {type(model).__name__} (fused "
                         "experts with 3-D gate_up_proj/down_proj, e.g. Mixtral, Qwen3-MoE); drop "
                         "ep from --parallel")
    for name, module in found:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, ShardedExperts(module, mesh))
    return len(found)
