"""Communication time: an α–β model of collectives, ring and hierarchical.

A collective on a group of ``n`` ranks moves a payload of ``S`` bytes. With the ring
algorithms every rank sends ``factor · S`` bytes (all-reduce 2(n−1)/n, all-gather and
reduce-scatter (n−1)/n, all-to-all (n−1)/n, broadcast and send 1) in ``steps`` rounds, and takes

    t = steps · α + bytes sent / (efficiency · β)

with α the link's per-step latency and β its per-GPU, per-direction bandwidth. A group inside
one node rings over the scale-up link; a group with one rank per node rings over the scale-out
fabric; a group spread over several nodes with several ranks in each runs *hierarchically*:
reduce-scatter inside the node, the inter-node collective on 1/k of the payload (k = ranks per
node, each GPU with its own NIC), all-gather inside the node.

>>> from flopwise.hardware.interconnect import GroupPlacement, cluster_for
>>> h100 = cluster_for("h100-sxm")
>>> t = collective_time("all_reduce", 10**9, GroupPlacement(8, 8), h100)
>>> t.algorithm, t.bytes_sent                          # 2·7/8 of 1 GB
('ring', 1750000000)
>>> round(t.seconds * 1e3, 3)                          # 14 µs + 1.75 GB / (0.7 · 450 GB/s)
5.57

Pure arithmetic, no torch: the LLM planner shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from flopwise.errors import UsageError
from flopwise.hardware.interconnect import Cluster, GroupPlacement, Link

__all__ = [
    "Collective",
    "ring_factor",
    "ring_steps",
    "bytes_sent_per_rank",
    "CommTime",
    "link_time",
    "collective_time",
]


class Collective(str, Enum):
    """The collectives the time model knows."""

    ALL_REDUCE = "all_reduce"
    ALL_GATHER = "all_gather"
    REDUCE_SCATTER = "reduce_scatter"
    ALL_TO_ALL = "all_to_all"
    BROADCAST = "broadcast"
    SEND_RECV = "send_recv"


def _collective(kind: str | Collective) -> Collective:
    if isinstance(kind, Collective):
        return kind
    try:
        return Collective(kind)
    except ValueError:
        names = ", ".join(c.value for c in Collective)
        raise UsageError(f"unknown collective {kind!r}; use one of {names}") from None


def _ring_ratio(kind: Collective, ranks: int) -> tuple[int, int]:
    if ranks < 1:
        raise UsageError(f"a group has at least one rank, got {ranks}")
    if ranks == 1 and kind is not Collective.SEND_RECV:
        return 0, 1
    if kind is Collective.ALL_REDUCE:
        return 2 * (ranks - 1), ranks
    if kind in (Collective.ALL_GATHER, Collective.REDUCE_SCATTER, Collective.ALL_TO_ALL):
        return ranks - 1, ranks
    return 1, 1


def ring_factor(kind: str | Collective, ranks: int) -> Fraction:
    """Bytes each rank sends per payload byte under the ring algorithm.

    ``S`` is the all-gather's output, the reduce-scatter's input, one rank's all-to-all input.

    >>> ring_factor("all_reduce", 8), ring_factor("all_gather", 8), ring_factor("send_recv", 2)
    (Fraction(7, 4), Fraction(7, 8), Fraction(1, 1))
    """
    return Fraction(*_ring_ratio(_collective(kind), ranks))


def ring_steps(kind: str | Collective, ranks: int) -> int:
    """Latency-bound rounds of the ring algorithm: 2(n−1) for all-reduce, n−1 for the halves
    and all-to-all, 1 for broadcast (pipelined) and send.

    >>> ring_steps("all_reduce", 8), ring_steps("reduce_scatter", 8), ring_steps("all_gather", 1)
    (14, 7, 0)
    """
    kind = _collective(kind)
    if ranks == 1 and kind is not Collective.SEND_RECV:
        return 0
    if kind is Collective.ALL_REDUCE:
        return 2 * (ranks - 1)
    if kind in (Collective.ALL_GATHER, Collective.REDUCE_SCATTER, Collective.ALL_TO_ALL):
        return ranks - 1
    return 1


def bytes_sent_per_rank(kind: str | Collective, payload_bytes: int, ranks: int) -> int:
    """Bytes one rank puts on the wire for one ring collective (rounded up to a byte).

    >>> bytes_sent_per_rank("all_gather", 1024, 4)      # 3/4 of the gathered 1 KiB
    768
    """
    numerator, denominator = _ring_ratio(_collective(kind), ranks)
    return -(-(payload_bytes * numerator) // denominator)


@dataclass(frozen=True)
class CommTime:
    """One collective's time and the bytes one rank sends, split by link.

    ``algorithm`` is ``ring`` (one link), ``hierarchical`` (inside then across nodes), ``p2p``
    (send/recv) or ``none`` (a group of one). ``latency_s`` is the α part of ``seconds``.
    """

    kind: Collective
    payload_bytes: int
    ranks: int
    algorithm: str
    scale_up_bytes: int
    scale_out_bytes: int
    latency_s: float
    seconds: float

    @property
    def bytes_sent(self) -> int:
        """All bytes this rank sends, on both links."""
        return self.scale_up_bytes + self.scale_out_bytes


def link_time(bytes_sent: int, steps: int, link: Link, efficiency: float) -> float:
    """α–β time of ``steps`` rounds sending ``bytes_sent`` bytes in all over ``link``.

    >>> from flopwise.hardware.interconnect import Link
    >>> link_time(10**9, 7, Link("x", 100e9, 2e-6), 0.5)     # 7·2 µs + 1 GB / 50 GB/s
    0.020014
    """
    if bytes_sent == 0 and steps == 0:
        return 0.0
    return steps * link.latency_s + bytes_sent / (efficiency * link.bandwidth_bytes_per_s)


def _flat(kind: Collective, payload: int, ranks: int, link: Link, cluster: Cluster,
          inside: bool) -> CommTime:
    sent = bytes_sent_per_rank(kind, payload, ranks)
    steps = ring_steps(kind, ranks)
    latency = steps * link.latency_s
    algorithm = "p2p" if kind is Collective.SEND_RECV else "ring"
    return CommTime(
        kind=kind, payload_bytes=payload, ranks=ranks, algorithm=algorithm,
        scale_up_bytes=sent if inside else 0, scale_out_bytes=0 if inside else sent,
        latency_s=latency, seconds=link_time(sent, steps, link, cluster.efficiency),
    )


def _hierarchical(kind: Collective, payload: int, group: GroupPlacement, cluster: Cluster) -> CommTime:
    k, m = group.ranks_per_node, group.nodes
    up, out, eff = cluster.scale_up, cluster.scale_out, cluster.efficiency
    if kind is Collective.ALL_TO_ALL:
        # NB: the k−1 peers in the node over NVLink, the n−k others over the fabric, one after
        # the other (no overlap of the two phases).
        intra = -(-(payload * (k - 1)) // group.ranks)
        inter = -(-(payload * (group.ranks - k)) // group.ranks)
        intra_steps, inter_steps = k - 1, group.ranks - k
    else:
        # all-reduce = reduce-scatter in the node, all-reduce across nodes on S/k, all-gather in
        # the node; all-gather and reduce-scatter do one half of each.
        halves = 2 if kind is Collective.ALL_REDUCE else 1
        intra = halves * bytes_sent_per_rank(Collective.ALL_GATHER, payload, k)
        inter = bytes_sent_per_rank(kind, -(-payload // k), m)
        intra_steps, inter_steps = halves * (k - 1), ring_steps(kind, m)
    latency = intra_steps * up.latency_s + inter_steps * out.latency_s
    seconds = link_time(intra, intra_steps, up, eff) + link_time(inter, inter_steps, out, eff)
    return CommTime(
        kind=kind, payload_bytes=payload, ranks=group.ranks, algorithm="hierarchical",
        scale_up_bytes=intra, scale_out_bytes=inter, latency_s=latency, seconds=seconds,
    )


def collective_time(
    kind: str | Collective, payload_bytes: int, group: GroupPlacement, cluster: Cluster
) -> CommTime:
    """Time of one collective of ``payload_bytes`` over ``group`` on ``cluster``.

    Broadcast and send/recv between nodes use the scale-out link; every other collective that
    spans nodes with several ranks in each runs hierarchically.

    >>> from flopwise.hardware.interconnect import GroupPlacement, cluster_for
    >>> h100 = cluster_for("h100-sxm")
    >>> t = collective_time("all_reduce", 8 * 10**9, GroupPlacement(64, 8), h100)
    >>> t.algorithm, t.scale_up_bytes, t.scale_out_bytes   # 2·(7/8)·8 GB; 2·(7/8)·1 GB
    ('hierarchical', 14000000000, 1750000000)
    """
    kind = _collective(kind)
    if payload_bytes < 0:
        raise UsageError(f"a payload is a non-negative number of bytes, got {payload_bytes}")
    if group.ranks == 1 and kind is not Collective.SEND_RECV:
        return CommTime(kind, payload_bytes, 1, "none", 0, 0, 0.0, 0.0)
    if group.nodes == 1:
        return _flat(kind, payload_bytes, group.ranks, cluster.scale_up, cluster, inside=True)
    if group.ranks_per_node == 1 or kind in (Collective.BROADCAST, Collective.SEND_RECV):
        return _flat(kind, payload_bytes, group.ranks, cluster.scale_out, cluster, inside=False)
    return _hierarchical(kind, payload_bytes, group, cluster)
