"""Hand-derived cases of the collective formulas (the registry's ``comm`` family).

Every case is on a fake process group of n = 4 ranks; tensors are fp32 (4 B). The ring: an
all-reduce sends 2(n-1)/n·S per rank, an all-gather, reduce-scatter or all-to-all (n-1)/n·S,
a broadcast or a send S; S is the full payload (for all-gather / reduce-scatter, n shards).
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as funcol

import flopwise
from flopwise.distributed import simulate
from flopwise.formulas import builtin_registry
from flopwise.formulas.comm import CollectiveKind, wire_bytes
from flopwise.formulas.spec import TensorSpec

N = 4
S = TensorSpec((64,), "float32", 4)          # 256 B
SHARD = TensorSpec((16,), "float32", 4)      # 64 B: one rank's quarter of S

# op -> (arguments after the group is put in, kind, payload S, bytes sent per rank)
CASES = {
    "c10d.allreduce_": (([S], "G"), CollectiveKind.ALL_REDUCE, 256, 2 * 3 * 256 // 4),
    "c10d.allreduce_coalesced_": (([S, S], "G"), CollectiveKind.ALL_REDUCE, 512, 2 * 3 * 512 // 4),
    "c10d.broadcast_": (([S], "G", 0, 0), CollectiveKind.BROADCAST, 256, 256),
    "c10d.reduce_": (([S], "G"), CollectiveKind.REDUCE, 256, 256),
    "c10d._allgather_base_": ((S, SHARD, "G"), CollectiveKind.ALL_GATHER, 256, 3 * 256 // 4),
    "c10d.allgather_into_tensor_coalesced_": (([S], [SHARD], "G"), CollectiveKind.ALL_GATHER,
                                              256, 192),
    "c10d.allgather_": (([[SHARD] * 4], [SHARD], "G"), CollectiveKind.ALL_GATHER, 256, 192),
    "c10d._reduce_scatter_base_": ((SHARD, S, "G"), CollectiveKind.REDUCE_SCATTER, 256, 192),
    "c10d.reduce_scatter_tensor_coalesced_": (([SHARD], [S], "G"),
                                              CollectiveKind.REDUCE_SCATTER, 256, 192),
    "c10d.reduce_scatter_": (([SHARD], [[SHARD] * 4], "G"), CollectiveKind.REDUCE_SCATTER,
                             256, 192),
    "c10d.alltoall_base_": ((S, S, "G", [], []), CollectiveKind.ALL_TO_ALL, 256, 192),
    "c10d.alltoall_": (([SHARD] * 4, [SHARD] * 4, "G"), CollectiveKind.ALL_TO_ALL, 256, 192),
    "c10d.send": (([S], "G", 1, 0), CollectiveKind.SEND, 256, 256),
    "c10d.recv_": (([S], "G", 1, 0), CollectiveKind.RECV, 256, 0),
    "c10d.recv_any_source_": (([S], "G", 0), CollectiveKind.RECV, 256, 0),
    "c10d.barrier": ((SHARD, "G", []), CollectiveKind.BARRIER, 0, 0),
    "_c10d_functional.all_reduce": ((S, "sum", "N"), CollectiveKind.ALL_REDUCE, 256, 384),
    "_c10d_functional.all_reduce_": ((S, "sum", "N"), CollectiveKind.ALL_REDUCE, 256, 384),
    "_c10d_functional.all_reduce_coalesced": (([S, S], "sum", "N"), CollectiveKind.ALL_REDUCE,
                                              512, 768),
    "_c10d_functional.all_reduce_coalesced_": (([S, S], "sum", "N"),
                                               CollectiveKind.ALL_REDUCE, 512, 768),
    "_c10d_functional.all_gather_into_tensor": ((SHARD, 4, "N"), CollectiveKind.ALL_GATHER,
                                                256, 192),
    "_c10d_functional.all_gather_into_tensor_coalesced": (([SHARD], 4, "N"),
                                                          CollectiveKind.ALL_GATHER, 256, 192),
    "_c10d_functional.reduce_scatter_tensor": ((S, "sum", 4, "N"),
                                               CollectiveKind.REDUCE_SCATTER, 256, 192),
    "_c10d_functional.reduce_scatter_tensor_coalesced": (([S], "sum", 4, "N"),
                                                         CollectiveKind.REDUCE_SCATTER, 256, 192),
    "_c10d_functional.all_to_all_single": ((S, [16] * 4, [16] * 4, "N"),
                                           CollectiveKind.ALL_TO_ALL, 256, 192),
    "_c10d_functional.broadcast": ((S, 0, "N"), CollectiveKind.BROADCAST, 256, 256),
    "_c10d_functional.broadcast_": ((S, 0, "N"), CollectiveKind.BROADCAST, 256, 256),
}
COVERS = set(CASES)
# the all-gather's result is its gathered output (S); a reduce-scatter's and all-to-all's are
# the shard / the exchanged tensor
RESULTS = {"_c10d_functional.all_gather_into_tensor": S,
           "_c10d_functional.all_gather_into_tensor_coalesced": [S],
           "_c10d_functional.reduce_scatter_tensor": SHARD,
           "_c10d_functional.reduce_scatter_tensor_coalesced": [SHARD]}


@pytest.fixture(scope="module")
def group():
    with simulate(world_size=N, fake=False):
        yield dist.group.WORLD


@pytest.mark.parametrize("op", sorted(CASES))
def test_collective_formula(op, group):
    args, kind, payload, sent = CASES[op]
    name = group.group_name
    args = tuple(group if a == "G" else name if a == "N" else a for a in args)
    cost = builtin_registry().lookup(op).formula(RESULTS.get(op, S), *args)
    assert cost.collective.kind is kind
    assert (cost.collective.payload_bytes, cost.collective.wire_bytes) == (payload, sent)
    assert (cost.collective.group_size, cost.collective.ranks) == (N, (0, 1, 2, 3))
    assert (cost.macs, cost.elementwise) == (0, 0)


@pytest.mark.parametrize("n, payload, expected", [
    (1, 100, (0, 0, 0)),          # a group of one sends nothing
    (2, 100, (100, 50, 100)),     # all-reduce 2·1/2·S, all-gather 1/2·S, broadcast S
    (8, 800, (1400, 700, 800)),   # 2·7/8·800, 7/8·800, 800
])
def test_wire_bytes_by_the_ring(n, payload, expected):
    assert (wire_bytes(CollectiveKind.ALL_REDUCE, payload, n),
            wire_bytes(CollectiveKind.ALL_GATHER, payload, n),
            wire_bytes(CollectiveKind.BROADCAST, payload, n)) == expected


def test_public_collectives_are_counted_end_to_end_and_wait_is_zero(group):
    def step(t):
        dist.all_reduce(t)                                   # 2·3/4·256 = 384
        dist.broadcast(t, 0)                                 # 256
        out = torch.empty(256)
        dist.all_gather_into_tensor(out, t)                  # S = 1024: 3/4·1024 = 768
        reduced = funcol.all_reduce(t, "sum", dist.group.WORLD)   # 384 again
        return funcol.wait_tensor(reduced)                        # declared zero

    report = flopwise.profile(step, (torch.ones(64),))
    assert report.unsupported == {}
    assert report.comm.comm_bytes == 384 + 256 + 768 + 384
    assert [row.kind for row in report.comm.rows] == [
        "all_reduce", "broadcast", "all_gather", "all_reduce"]
    assert report.total.flops == 0
