"""What :func:`flopwise.profile` does differently when ``torch.distributed`` is initialised.

- **Backward by accumulation.** FSDP2 reduce-scatters a gradient from a hook that fires when it
  is accumulated, and DDP's reducer from hooks on gradient accumulation too; a backward through
  ``torch.autograd.grad`` accumulates nothing, so neither would communicate. In a distributed
  run the backward is ``torch.autograd.backward``; every ``.grad`` it fills (parameters and
  inputs) is put back to what it was before the run.
- **DDP, by its buckets.** DDP's reducer calls the process group from C++ once a bucket of
  gradients is ready. flopwise runs the model inside ``DistributedDataParallel.no_sync()`` (the
  public switch; restored on exit) so the reducer does not communicate, and then records one
  all-reduce per bucket of the reducer's own bucket layout (its size and dtype), in the
  backward phase, on the DDP module. The process group sees no call from the profile; the
  gradients of the run are local, and are discarded anyway.
- **DTensor parameters.** ``params`` stays the logical (global) count; the ``comm`` section adds
  this rank's local parameter count and bytes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.distributed as dist

from flopwise.capture.events import OpEvent, Phase, Status
from flopwise.distributed.report import CommReport, build_comm_report
from flopwise.formulas.comm import Collective, CollectiveKind
from flopwise.formulas.spec import Cost

__all__ = ["DistributedRun", "distributed_run", "accumulating_backward"]


def distributed_run(model: Any) -> DistributedRun | None:
    """The distributed side of a profile, or None when no process group is initialised."""
    if not (dist.is_available() and dist.is_initialized()):
        return None
    return DistributedRun(model)


def _ddp_modules(model: Any) -> list[tuple[str, torch.nn.parallel.DistributedDataParallel]]:
    if not isinstance(model, torch.nn.Module):
        return []
    ddp = torch.nn.parallel.DistributedDataParallel
    return [(name, module) for name, module in model.named_modules() if isinstance(module, ddp)]


class DistributedRun:
    """Switches DDP's gradient sync off for the run and accounts its buckets afterwards."""

    def __init__(self, model: Any) -> None:
        self._ddp = _ddp_modules(model)

    @contextlib.contextmanager
    def no_ddp_sync(self) -> Iterator[None]:
        """Every DDP module inside ``no_sync()`` (restored on exit, also on error)."""
        with contextlib.ExitStack() as stack:
            for _name, module in self._ddp:
                stack.enter_context(module.no_sync())
            yield

    def bucket_events(self, backward: bool) -> list[OpEvent]:
        """One all-reduce event per gradient bucket of each DDP module (after a backward)."""
        if not backward:
            return []
        events = []
        for name, module in self._ddp:
            group = module.process_group
            ranks = tuple(dist.get_process_group_ranks(group))
            # NB: reads the reducer's private bucket list (zero tensors shaped like the
            # buckets, in the order the reducer launches them); rebuilt buckets are seen
            # once DDP has rebuilt them after its first synchronised iteration
            for bucket in module.reducer._get_zeros_like_grad_buckets():
                buffer = bucket.buffer()
                size = buffer.numel() * buffer.element_size()
                collective = Collective(CollectiveKind.ALL_REDUCE, size, group.size(), ranks,
                                        "ddp-bucket")
                events.append(OpEvent("c10d.allreduce_.default", name, Phase.BACKWARD,
                                      Status.COUNTED, Cost(0, 0, 0, 0, size, size),
                                      str(buffer.dtype).removeprefix("torch."),
                                      comm=collective))
        return events

    def report(self, events: Iterable[OpEvent], params: Sequence[torch.Tensor]) -> CommReport:
        local, local_bytes = _local_params(params)
        return build_comm_report(events, rank=dist.get_rank(), world_size=dist.get_world_size(),
                                 backend=str(dist.get_backend()), local_params=local,
                                 local_param_bytes=local_bytes)


def _local_params(params: Sequence[torch.Tensor]) -> tuple[int, int]:
    """This rank's parameter elements and bytes (a DTensor's local shard, else the tensor)."""
    from torch.distributed.tensor import DTensor

    count = nbytes = 0
    for param in params:
        local = param.to_local() if isinstance(param, DTensor) else param
        count += local.numel()
        nbytes += local.numel() * local.element_size()
    return count, nbytes


def accumulating_backward(value: torch.Tensor, leaves: Sequence[torch.Tensor]) -> None:
    """``value.backward()`` (so FSDP's and DDP's gradient hooks fire), then every leaf's
    ``.grad`` put back as it was."""
    saved = [(leaf, leaf.grad) for leaf in leaves]
    try:
        torch.autograd.backward(value)
    finally:
        for leaf, grad in saved:
            leaf.grad = grad
