"""Communication: the collectives of ``torch.distributed`` and FSDP2's copy ops.

A collective does no arithmetic: its cost is data. Each call records a :class:`Collective`:
the payload ``S`` (for all-gather and reduce-scatter the full, gathered size), the group's size
``n`` and ranks, and the bytes this rank sends under a named algorithm (the standard ring, see
docs/formulas.md for the derivations):

=================  =======================  ==================
collective          bytes sent per rank      algorithm
=================  =======================  ==================
all-reduce          2(n-1)/n · S             ring (reduce-scatter + all-gather)
all-gather          (n-1)/n · S              ring
reduce-scatter      (n-1)/n · S              ring
all-to-all          (n-1)/n · S              pairwise
broadcast           S                        pipelined ring (the root's view)
send / recv         S (send), 0 (recv)       point-to-point
=================  =======================  ==================

>>> wire_bytes(CollectiveKind.ALL_REDUCE, 1024, 4)      # 2·3/4 · 1024
1536
>>> wire_bytes(CollectiveKind.ALL_GATHER, 1024, 4)      # 3/4 · 1024
768

``wait_tensor`` and the functional collectives' autograd wrapper are declared zero; FSDP2's copy
ops (``fsdp.all_gather_copy_in``, ``fsdp.split_with_sizes_copy``, ``fsdp.chunk_cat``) move
memory (their inputs read, their outputs written) with no FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flopwise.formulas._helpers import specs_in
from flopwise.formulas.registry import FormulaTable
from flopwise.formulas.spec import Cost

__all__ = ["CollectiveKind", "Collective", "CommCost", "ALGORITHMS", "wire_bytes",
           "collective_cost", "TABLE", "C10D_OPS", "FUNCTIONAL_OPS", "FSDP_COPIES"]


class CollectiveKind(str, Enum):
    """What a collective does; each has one bytes-on-the-wire formula."""

    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_TO_ALL = "all_to_all"
    BROADCAST = "broadcast"
    REDUCE = "reduce"
    SEND = "send"
    RECV = "recv"
    BARRIER = "barrier"


#: The algorithm each kind is costed by (named in every report row).
ALGORITHMS: dict[CollectiveKind, str] = {
    CollectiveKind.ALL_REDUCE: "ring", CollectiveKind.ALL_GATHER: "ring",
    CollectiveKind.REDUCE_SCATTER: "ring", CollectiveKind.ALL_TO_ALL: "pairwise",
    CollectiveKind.BROADCAST: "ring", CollectiveKind.REDUCE: "ring",
    CollectiveKind.SEND: "p2p", CollectiveKind.RECV: "p2p", CollectiveKind.BARRIER: "none",
}


def wire_bytes(kind: CollectiveKind, payload_bytes: int, group_size: int) -> int:
    """Bytes one rank sends for a collective of ``payload_bytes`` over ``group_size`` ranks.

    # NB: integer division: a payload not divisible by n rounds the per-rank figure down by
    # less than one byte; NCCL's tree and other algorithms send different amounts.

    >>> [wire_bytes(kind, 800, 8) for kind in (CollectiveKind.ALL_TO_ALL,
    ...  CollectiveKind.BROADCAST, CollectiveKind.RECV)]
    [700, 800, 0]
    >>> wire_bytes(CollectiveKind.ALL_REDUCE, 800, 1)       # a group of one sends nothing
    0
    """
    n, s = group_size, payload_bytes
    if kind is CollectiveKind.ALL_REDUCE:
        return 2 * (n - 1) * s // n
    if kind in (CollectiveKind.ALL_GATHER, CollectiveKind.REDUCE_SCATTER,
                CollectiveKind.ALL_TO_ALL):
        return (n - 1) * s // n
    if kind in (CollectiveKind.BROADCAST, CollectiveKind.REDUCE, CollectiveKind.SEND):
        return s if n > 1 else 0
    return 0


@dataclass(frozen=True, slots=True)
class Collective:
    """One collective call: what it did, over which group, how many bytes.

    ``payload_bytes`` is ``S`` of the formulas: the whole tensor reduced, broadcast or sent, and
    for all-gather / reduce-scatter the full (gathered) size, ``n`` times one rank's shard.
    """

    kind: CollectiveKind
    payload_bytes: int
    group_size: int
    ranks: tuple[int, ...] = ()
    source: str = "dispatch"   # "dispatch": seen as an op; "ddp-bucket": read from DDP's buckets

    @property
    def algorithm(self) -> str:
        return ALGORITHMS[self.kind]

    @property
    def wire_bytes(self) -> int:
        return wire_bytes(self.kind, self.payload_bytes, self.group_size)


@dataclass(frozen=True, slots=True)
class CommCost(Cost):
    """A collective's cost: no FLOPs, its tensors' bytes, and the :class:`Collective` itself."""

    collective: Collective | None = None


def collective_cost(kind: CollectiveKind, payload_bytes: int, group: Any, read_bytes: int,
                    written_bytes: int) -> CommCost:
    """The cost record of one collective call over ``group`` (a process group or its name)."""
    size, ranks = _group(group)
    return CommCost(bytes_read=read_bytes, bytes_written=written_bytes,
                    collective=Collective(kind, payload_bytes, size, ranks))


def _group(group: Any) -> tuple[int, tuple[int, ...]]:
    """Size and global ranks of a process group given as a c10d object or a group name."""
    import torch.distributed as dist
    from torch.distributed.distributed_c10d import _resolve_process_group

    if isinstance(group, str):
        pg = _resolve_process_group(group)  # type: ignore[arg-type]
    elif isinstance(group, dist.ProcessGroup):
        pg = group
    else:
        pg = dist.ProcessGroup.unbox(group)
    return pg.size(), tuple(dist.get_process_group_ranks(pg))


def _nbytes(value: Any) -> int:
    return sum(spec.nbytes for spec in specs_in(value))


def _full(kind: CollectiveKind) -> Callable[..., Cost]:
    """In-place c10d collectives on a list of tensors: the payload is the tensors' bytes."""
    def formula(result: Any, tensors: Any, group: Any, *_: Any, **__: Any) -> Cost:
        size = _nbytes(tensors)
        return collective_cost(kind, size, group, size, size)
    formula.__doc__ = f"{kind.value}: payload = the tensors; bytes sent per rank by the ring."
    return formula


#: c10d's in-place ops on tensor lists (what ``torch.distributed.*`` dispatches to).
C10D_OPS: dict[str, CollectiveKind] = {
    "c10d.allreduce_": CollectiveKind.ALL_REDUCE,
    "c10d.allreduce_coalesced_": CollectiveKind.ALL_REDUCE,
    "c10d.broadcast_": CollectiveKind.BROADCAST,
    "c10d.reduce_": CollectiveKind.REDUCE,
}
#: The functional collectives (DTensor, torchtitan, compiled code); ``group_name`` arguments.
FUNCTIONAL_OPS: dict[str, CollectiveKind] = {
    "_c10d_functional.all_reduce": CollectiveKind.ALL_REDUCE,
    "_c10d_functional.all_reduce_": CollectiveKind.ALL_REDUCE,
    "_c10d_functional.all_reduce_coalesced": CollectiveKind.ALL_REDUCE,
    "_c10d_functional.all_reduce_coalesced_": CollectiveKind.ALL_REDUCE,
    "_c10d_functional.all_gather_into_tensor": CollectiveKind.ALL_GATHER,
    "_c10d_functional.all_gather_into_tensor_coalesced": CollectiveKind.ALL_GATHER,
    "_c10d_functional.reduce_scatter_tensor": CollectiveKind.REDUCE_SCATTER,
    "_c10d_functional.reduce_scatter_tensor_coalesced": CollectiveKind.REDUCE_SCATTER,
    "_c10d_functional.all_to_all_single": CollectiveKind.ALL_TO_ALL,
    "_c10d_functional.broadcast": CollectiveKind.BROADCAST,
    "_c10d_functional.broadcast_": CollectiveKind.BROADCAST,
}
#: FSDP2's copy kernels around its all-gather and reduce-scatter: memory traffic, no FLOPs.
FSDP_COPIES: tuple[str, ...] = (
    "fsdp.all_gather_copy_in", "fsdp.split_with_sizes_copy", "fsdp.chunk_cat",
)


def _group_arg(args: tuple, kwargs: dict) -> Any:
    """The ``group_name`` argument of a functional collective (its last string argument)."""
    if "group_name" in kwargs:
        return kwargs["group_name"]
    return [a for a in args if isinstance(a, str)][-1]


def _functional(kind: CollectiveKind) -> Callable[..., Cost]:
    def formula(result: Any, inputs: Any, *args: Any, **kwargs: Any) -> Cost:
        sent, received = _nbytes(inputs), _nbytes(result)
        payload = received if kind is CollectiveKind.ALL_GATHER else sent
        return collective_cost(kind, payload, _group_arg(args, kwargs), sent, received)
    formula.__doc__ = (f"{kind.value} (functional): payload = the "
                       f"{'output' if kind is CollectiveKind.ALL_GATHER else 'input'}; "
                       "bytes sent per rank by the ring.")
    return formula


TABLE = FormulaTable("comm")
for _name, _kind in C10D_OPS.items():
    TABLE.formula(_name, note=f"{_kind.value}, {ALGORITHMS[_kind]}")(_full(_kind))
for _name, _kind in FUNCTIONAL_OPS.items():
    TABLE.formula(_name, note=f"{_kind.value}, {ALGORITHMS[_kind]}")(_functional(_kind))


@TABLE.formula("c10d._allgather_base_", "c10d.allgather_into_tensor_coalesced_",
               note="all_gather, ring; S = the gathered output")
def all_gather(result: Any, output: Any, shard: Any, group: Any, *_: Any, **__: Any) -> Cost:
    """all_gather: S = the gathered output (n shards); (n-1)/n·S sent per rank."""
    gathered = _nbytes(output)
    return collective_cost(CollectiveKind.ALL_GATHER, gathered, group, _nbytes(shard),
                           gathered)


@TABLE.formula("c10d.allgather_", note="all_gather, ring (tensor lists)")
def all_gather_list(result: Any, outputs: Any, shard: Any, group: Any, *_: Any,
                    **__: Any) -> Cost:
    """all_gather into a list: S = every output tensor together."""
    gathered = _nbytes(outputs)
    return collective_cost(CollectiveKind.ALL_GATHER, gathered, group, _nbytes(shard),
                           gathered)


@TABLE.formula("c10d._reduce_scatter_base_", "c10d.reduce_scatter_tensor_coalesced_",
               note="reduce_scatter, ring; S = the full input")
def reduce_scatter(result: Any, output: Any, full: Any, group: Any, *_: Any,
                   **__: Any) -> Cost:
    """reduce_scatter: S = the full input (n shards); (n-1)/n·S sent per rank."""
    size = _nbytes(full)
    return collective_cost(CollectiveKind.REDUCE_SCATTER, size, group, size,
                           _nbytes(output))


@TABLE.formula("c10d.reduce_scatter_",
               note="reduce_scatter, ring (tensor lists)")
def reduce_scatter_list(result: Any, outputs: Any, inputs: Any, group: Any, *_: Any,
                        **__: Any) -> Cost:
    """reduce_scatter from a list: S = every input tensor together."""
    size = _nbytes(inputs)
    return collective_cost(CollectiveKind.REDUCE_SCATTER, size, group, size,
                           _nbytes(outputs))


@TABLE.formula("c10d.alltoall_base_", "c10d.alltoall_",
               note="all_to_all, pairwise; S = this rank's input")
def all_to_all(result: Any, output: Any, inputs: Any, group: Any, *_: Any,
               **__: Any) -> Cost:
    """all_to_all: S = this rank's input; all but its own 1/n leaves the rank."""
    size = _nbytes(inputs)
    return collective_cost(CollectiveKind.ALL_TO_ALL, size, group, size, _nbytes(output))


@TABLE.formula("c10d.send", note="point-to-point: S sent")
def send(result: Any, tensors: Any, group: Any, *_: Any, **__: Any) -> Cost:
    """send: S bytes leave this rank."""
    size = _nbytes(tensors)
    return collective_cost(CollectiveKind.SEND, size, group, size, 0)


@TABLE.formula("c10d.recv_", "c10d.recv_any_source_",
               note="point-to-point: S received, none sent")
def recv(result: Any, tensors: Any, group: Any, *_: Any, **__: Any) -> Cost:
    """recv: S bytes arrive; this rank sends nothing."""
    size = _nbytes(tensors)
    return collective_cost(CollectiveKind.RECV, size, group, 0, size)


@TABLE.formula("c10d.barrier", note="synchronisation only: no payload")
def barrier(result: Any, tensor: Any, group: Any, *_: Any, **__: Any) -> Cost:
    """barrier: no payload."""
    return collective_cost(CollectiveKind.BARRIER, 0, group, 0, 0)


TABLE.zero("_c10d_functional.wait_tensor", "_c10d_functional._wrap_tensor_autograd",
           note="waits for (or wraps) a collective's result", moves_data=False)
TABLE.zero(*FSDP_COPIES, note="FSDP2's copies around its collectives: memory traffic, no FLOPs")
