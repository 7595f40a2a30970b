"""The parallel toys profiled by the real gloo runs and by ``simulate()``: one code path each.

Every scenario builds its model inside the (real or simulated) job, parallelises it with torch's
own API, profiles one forward + backward and returns a JSON-able summary of this rank's report.
Dimensions are small so that 4 gloo ranks fit the 2-core test machine.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

import flopwise

D = 16          # model width
HIDDEN = 4 * D  # MLP width
TOKENS = 8      # rows of the input batch
BLOCKS = 2


class Block(torch.nn.Module):
    """LayerNorm + MLP with a residual: 2D + (D·4D + 4D) + (4D·D + D) = 8D² + 7D parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = torch.nn.LayerNorm(D)
        self.up = torch.nn.Linear(D, HIDDEN)
        self.down = torch.nn.Linear(HIDDEN, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(torch.relu(self.up(self.norm(x))))


class Mlp(torch.nn.Module):
    """Linear(D, 4D) -> relu -> Linear(4D, D), the tensor-parallel pair."""

    def __init__(self) -> None:
        super().__init__()
        self.up = torch.nn.Linear(D, HIDDEN)
        self.down = torch.nn.Linear(HIDDEN, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


class Experts(torch.nn.Module):
    """Expert parallel: tokens go to the rank holding their expert and come back
    (all_to_all_single both ways, equal splits); each rank holds one bias-free D×D expert."""

    def __init__(self) -> None:
        super().__init__()
        self.expert = torch.nn.Linear(D, D, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        group = dist.group.WORLD
        routed = funcol.all_to_all_single_autograd(x, None, None, group)
        return funcol.all_to_all_single_autograd(self.expert(routed), None, None, group)


def summary(report: flopwise.Report) -> dict[str, Any]:
    comm = report.comm
    return {
        "params": report.params, "macs": report.total.macs, "flops": report.total.flops,
        "phase_macs": {phase: totals.macs for phase, totals in report.phases.items()},
        "local_params": comm.local_params, "local_param_bytes": comm.local_param_bytes,
        "comm_bytes": comm.comm_bytes, "world_size": comm.world_size,
        "collectives": sorted([row.kind, row.module, row.phase, row.group_size, row.calls,
                               row.payload_bytes, row.wire_bytes] for row in comm.rows),
        "unsupported": report.unsupported,
    }


def fsdp(mesh: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*(Block() for _ in range(BLOCKS)))
    for block in model:
        fully_shard(block, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return summary(flopwise.profile(model, torch.randn(TOKENS, D), backward=True))


def tensor_parallel(mesh: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    model = Mlp()
    parallelize_module(model, mesh, {"up": ColwiseParallel(), "down": RowwiseParallel()})
    x = torch.randn(TOKENS, D, requires_grad=True)
    return summary(flopwise.profile(model, x, backward=True))


def ddp(mesh: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(Mlp())
    return summary(flopwise.profile(model, torch.randn(TOKENS, D), backward=True))


def experts(mesh: Any) -> dict[str, Any]:
    torch.manual_seed(0)
    x = torch.randn(TOKENS, D, requires_grad=True)
    return summary(flopwise.profile(Experts(), x, backward=True))





def _state(model: torch.nn.Module) -> dict[str, Any]:
    """What a profile must leave as found: values, gradients, hooks, flags."""
    return {
        "values": {name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
        "params": [(name, id(p), p.requires_grad, p.grad) for name, p in model.named_parameters()],
        "hooks": [(name, len(m._forward_hooks), len(m._forward_pre_hooks),
                   len(m._backward_hooks), len(m._backward_pre_hooks)) for name, m in
                  model.named_modules()],
        "training": [m.training for m in model.modules()],
        "sync": [getattr(m, "require_backward_grad_sync", None) for m in model.modules()],
    }


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    values = before.pop("values"), after.pop("values")
    return before == after and values[0].keys() == values[1].keys() and all(
        torch.equal(_plain(values[0][k]), _plain(values[1][k])) for k in values[0])


def _plain(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def intact(mesh: Any) -> dict[str, Any]:
    """Profile FSDP2 and DDP models and report whether each was left exactly as found."""
    torch.manual_seed(0)
    sharded = torch.nn.Sequential(*(Block() for _ in range(BLOCKS)))
    for block in sharded:
        fully_shard(block, mesh=mesh)
    fully_shard(sharded, mesh=mesh)
    replicated = torch.nn.parallel.DistributedDataParallel(Mlp())
    world, group = dist.get_world_size(), dist.group.WORLD
    found = {}
    for name, model in (("fsdp", sharded), ("ddp", replicated)):
        before = _state(model)
        flopwise.profile(model, torch.randn(TOKENS, D), backward=True)
        found[name] = _same(before, _state(model))
    found["group"] = dist.get_world_size() == world and dist.group.WORLD is group
    return found
def gathered(mesh: Any) -> dict[str, Any] | None:
    """Rank r profiles a D×D linear layer on T·(r+1) tokens; rank 0 gathers every report."""
    from flopwise.distributed import gather

    rows = TOKENS * (dist.get_rank() + 1)
    report = flopwise.profile(torch.nn.Linear(D, D, bias=False), torch.randn(rows, D))
    table = gather(report)
    if table is None:
        return None
    return {"flops": [row.flops for row in table.rows], "imbalance": table.imbalance("flops"),
            "ranks": [data["comm"]["rank"] for data in table.reports]}


SCENARIOS = {"fsdp": fsdp, "tp": tensor_parallel, "ddp": ddp, "ep": experts, "intact": intact,
             "gathered": gathered}
