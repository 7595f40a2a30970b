"""``simulate``: one rank of a world of any size, in this process, on torch's own engine.

Inside the context, ``torch.distributed`` is initialised with torch's *fake* process group (the
in-process backend torch uses in its own tests: every collective returns at once and moves no
data) and a :class:`~torch.distributed.device_mesh.DeviceMesh` is built; a
:class:`~torch._subclasses.fake_tensor.FakeTensorMode` is active, so tensors created inside have
shapes but no storage. The user's own ``fully_shard`` / ``parallelize_module`` / DDP code then
runs unchanged, and ``flopwise.profile`` counts what the simulated rank would run and send.

# NB: the fake backend lives in ``torch.testing._internal.distributed.fake_pg``, a testing
# utility with no stability promise: a torch upgrade may move or change it.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping

from flopwise.errors import UsageError

__all__ = ["simulate"]


@contextlib.contextmanager
def simulate(world_size: int, mesh: Mapping[str, int] | None = None, *, rank: int = 0,
             fake: bool = True, device_type: str = "cpu") -> Iterator[object]:
    """Simulate rank ``rank`` of a ``world_size``-rank job; yields its ``DeviceMesh``.

    Args:
        world_size: ranks in the simulated job.
        mesh: named mesh dimensions, outermost first (``{"dp": 128, "tp": 8}``); their product
            must be ``world_size``. Default: one dimension ``{"world": world_size}``.
        rank: which rank this process plays.
        fake: create tensors as fake tensors (shapes only; a 70B model costs no memory).
            DDP's C++ reducer reads real storage when it is built: for DDP pass ``fake=False``
            and build the model on the CPU (a DDP replica fits one device anyway).
        device_type: the mesh's device type.

    Raises :class:`~flopwise.UsageError` if a process group is already initialised, or the mesh
    does not multiply out to ``world_size``. The group is destroyed on exit (also on error).

    Example:
        >>> import torch, flopwise
        >>> from flopwise.distributed import simulate
        >>> from torch.distributed.tensor.parallel import (ColwiseParallel, RowwiseParallel,
        ...                                                parallelize_module)
        >>> with simulate(world_size=4) as mesh:
        ...     mlp = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Linear(64, 16))
        ...     _ = parallelize_module(mlp, mesh, {"0": ColwiseParallel(), "1": RowwiseParallel()})
        ...     report = flopwise.profile(mlp, torch.randn(8, 16))
        >>> report.total.macs                       # this rank: 8·16·16 + 8·16·16 (a quarter)
        4096
        >>> report.comm.comm_bytes                  # one all-reduce of 8·16 fp32: 2·3/4·512
        768
    """
    import torch.distributed as dist

    dims = dict(mesh) if mesh else {"world": world_size}
    if world_size < 1 or math.prod(dims.values()) != world_size:
        raise UsageError(f"simulate: mesh {dims} holds {math.prod(dims.values())} ranks, not "
                         f"world_size={world_size}; make the dimensions multiply to world_size")
    if not 0 <= rank < world_size:
        raise UsageError(f"simulate: rank {rank} is outside 0..{world_size - 1}; pass rank= in "
                         "that range")
    if dist.is_initialized():
        raise UsageError("simulate: torch.distributed is already initialised in this process; "
                         "call destroy_process_group() first, or profile inside the real job")
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed.device_mesh import init_device_mesh
    from torch.testing._internal.distributed.fake_pg import FakeStore

    dist.init_process_group("fake", store=FakeStore(), rank=rank, world_size=world_size)
    try:
        device_mesh = init_device_mesh(device_type, tuple(dims.values()),
                                       mesh_dim_names=tuple(dims))
        with FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext():
            yield device_mesh
    finally:
        dist.destroy_process_group()
