"""The α–β collective model: ring factors, flat rings, hierarchical collectives, by hand."""

from __future__ import annotations

from fractions import Fraction

import pytest

from flopwise.errors import UsageError
from flopwise.hardware.comm import (
    Collective,
    bytes_sent_per_rank,
    collective_time,
    link_time,
    ring_factor,
    ring_steps,
)
from flopwise.hardware.interconnect import GroupPlacement, Link, cluster_for

H100 = cluster_for("h100-sxm")           # NVLink 450e9 B/s, 1 µs; NDR 50e9 B/s, 5 µs; 70 %
NVLINK = 0.7 * 450e9
NDR = 0.7 * 50e9


@pytest.mark.parametrize(
    ("kind", "ranks", "factor", "steps"),
    [
        ("all_reduce", 8, Fraction(14, 8), 14),      # 2(n−1)/n, 2(n−1) rounds
        ("all_gather", 8, Fraction(7, 8), 7),
        ("reduce_scatter", 4, Fraction(3, 4), 3),
        ("all_to_all", 16, Fraction(15, 16), 15),
        ("broadcast", 8, Fraction(1), 1),
        ("send_recv", 2, Fraction(1), 1),
        ("all_reduce", 1, Fraction(0), 0),           # a group of one sends nothing
    ],
    ids=lambda value: str(value),
)
def test_ring_factor_and_steps(kind: str, ranks: int, factor: Fraction, steps: int) -> None:
    assert ring_factor(kind, ranks) == factor
    assert ring_steps(kind, ranks) == steps


def test_bytes_round_up() -> None:
    assert bytes_sent_per_rank("all_gather", 10, 3) == 7        # 2/3 · 10 = 6.67 -> 7


def test_flat_ring_inside_a_node() -> None:
    t = collective_time("all_gather", 800_000_000, GroupPlacement(8, 8), H100)
    assert (t.algorithm, t.scale_up_bytes, t.scale_out_bytes) == ("ring", 700_000_000, 0)
    assert t.latency_s == pytest.approx(7 * 1e-6)
    assert t.seconds == pytest.approx(7e-6 + 700e6 / NVLINK)


def test_flat_ring_across_nodes_one_rank_each() -> None:
    t = collective_time("all_reduce", 4 * 10**9, GroupPlacement(4, 1), H100)
    assert (t.algorithm, t.scale_up_bytes, t.scale_out_bytes) == ("ring", 0, 6 * 10**9)  # 2·3/4
    assert t.seconds == pytest.approx(6 * 5e-6 + 6e9 / NDR)


def test_hierarchical_all_reduce_time() -> None:
    payload = 8 * 10**9                      # 64 ranks, 8 nodes of 8
    t = collective_time("all_reduce", payload, GroupPlacement(64, 8), H100)
    intra = 2 * 7 * payload // 8             # reduce-scatter + all-gather in the node
    inter = 2 * 7 * (payload // 8) // 8      # all-reduce of S/8 over 8 nodes
    assert (t.scale_up_bytes, t.scale_out_bytes) == (intra, inter)
    assert t.seconds == pytest.approx(14 * 1e-6 + intra / NVLINK + 14 * 5e-6 + inter / NDR)


def test_hierarchical_halves_and_all_to_all() -> None:
    payload = 1_600_000_000                  # 16 ranks, 2 nodes of 8
    group = GroupPlacement(16, 8)
    gather = collective_time("all_gather", payload, group, H100)
    assert (gather.scale_up_bytes, gather.scale_out_bytes) == (1_400_000_000, 100_000_000)  # 7/8·S; 1/2·S/8
    scatter = collective_time("reduce_scatter", payload, group, H100)
    assert scatter.bytes_sent == gather.bytes_sent
    a2a = collective_time("all_to_all", payload, group, H100)
    assert (a2a.scale_up_bytes, a2a.scale_out_bytes) == (700_000_000, 800_000_000)  # 7/16·S; 8/16·S


def test_send_between_nodes_uses_the_fabric() -> None:
    t = collective_time(Collective.SEND_RECV, 10**8, GroupPlacement(2, 1), H100)
    assert (t.algorithm, t.scale_out_bytes) == ("p2p", 10**8)
    assert t.seconds == pytest.approx(5e-6 + 1e8 / NDR)
    inside = collective_time(Collective.SEND_RECV, 10**8, GroupPlacement(2, 2), H100)
    assert inside.scale_up_bytes == 10**8


def test_group_of_one_is_free() -> None:
    t = collective_time("all_reduce", 10**9, GroupPlacement(1, 1), H100)
    assert (t.seconds, t.bytes_sent, t.algorithm) == (0.0, 0, "none")


def test_link_time_is_alpha_plus_beta() -> None:
    assert link_time(10**9, 3, Link("x", 1e10, 1e-5), 0.5) == pytest.approx(3e-5 + 0.2)


@pytest.mark.parametrize(("kind", "payload"), [("gather", 1), ("all_reduce", -1)], ids=["name", "negative"])
def test_bad_collectives_are_usage_errors(kind: str, payload: int) -> None:
    with pytest.raises(UsageError):
        collective_time(kind, payload, GroupPlacement(2, 2), H100)
