"""Interconnects: the links between accelerators, and a cluster (accelerator + links + node size).

A *cluster* is what communication time needs: the accelerator, how many of them share a node,
the scale-up link inside a node (NVLink/NVSwitch, Infinity Fabric, PCIe), the scale-out fabric
between nodes (InfiniBand, RoCE, Ethernet) per GPU, the efficiency collectives reach on them,
and the order in which parallel dimensions are laid over the ranks. The figures per catalogue
entry live in ``interconnects.json`` beside this module, each with its source; a user's own
cluster is a JSON file (schema ``flopwise.cluster/1``, docs/parallel.md).

>>> cluster = cluster_for("h100-sxm")
>>> cluster.gpus_per_node, cluster.scale_up.bandwidth_bytes_per_s, cluster.scale_out.name
(8, 450000000000.0, 'InfiniBand NDR, one 400 Gb/s port per GPU')

This module never imports torch: the LLM planner uses it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError
from flopwise.hardware.catalogue import Accelerator, accelerator_from_dict, get_accelerator

__all__ = [
    "CLUSTER_SCHEMA",
    "DEFAULT_COMM_EFFICIENCY",
    "DEFAULT_MESH_ORDER",
    "Link",
    "Cluster",
    "GroupPlacement",
    "interconnect_ids",
    "cluster_for",
    "load_cluster",
    "get_cluster",
    "place_group",
]

CLUSTER_SCHEMA = "flopwise.cluster/1"

#: Fraction of a link's per-direction bandwidth a large collective reaches (nccl-tests "busbw"
#: over the link peak). NB: public nccl-tests logs on 8×A100 NVLink show 190–230 GB/s busbw
#: against 300 GB/s, i.e. 0.63–0.77; one figure is used for every link unless a cluster file
#: says otherwise.
DEFAULT_COMM_EFFICIENCY = 0.7

#: Parallel dimensions from innermost (consecutive ranks, inside a node first) to outermost.
#: Tensor parallelism talks most and most often, data parallelism least often: the Llama 3
#: paper orders them [TP, CP, PP, DP] for that reason.
DEFAULT_MESH_ORDER: tuple[str, ...] = ("tp", "pp", "dp")


@dataclass(frozen=True)
class Link:
    """One kind of link: per-GPU, per-direction bandwidth and a per-step latency."""

    name: str
    bandwidth_bytes_per_s: float
    latency_s: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The link as JSON-ready values."""
        return {
            "name": self.name,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "latency_s": self.latency_s,
            "source": self.source,
        }


@dataclass(frozen=True)
class Cluster:
    """Accelerators, ``gpus_per_node`` of them joined by ``scale_up``, nodes by ``scale_out``.

    ``efficiency`` scales both links' bandwidth (stated in every output that uses it);
    ``mesh_order`` lists parallel dimensions innermost first (see :func:`place_group`).
    """

    name: str
    accelerator: Accelerator
    gpus_per_node: int
    scale_up: Link
    scale_out: Link
    efficiency: float = DEFAULT_COMM_EFFICIENCY
    mesh_order: tuple[str, ...] = DEFAULT_MESH_ORDER
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The cluster as a cluster file (schema ``flopwise.cluster/1``)."""
        return {
            "schema": CLUSTER_SCHEMA,
            "name": self.name,
            "accelerator": self.accelerator.id,
            "gpus_per_node": self.gpus_per_node,
            "scale_up": self.scale_up.to_dict(),
            "scale_out": self.scale_out.to_dict(),
            "efficiency": self.efficiency,
            "mesh_order": list(self.mesh_order),
            "source": self.source,
        }


def _positive(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def _link_from_dict(data: Any, origin: str, key: str) -> Link:
    def bad(why: str) -> UsageError:
        return UsageError(f"{origin}: {key} {why}; see docs/parallel.md for the cluster file format")

    if not isinstance(data, dict):
        raise bad("must be an object with name, bandwidth_bytes_per_s, latency_s")
    if not isinstance(data.get("name"), str) or not data["name"].strip():
        raise bad("needs a non-empty 'name'")
    if not _positive(data.get("bandwidth_bytes_per_s")):
        raise bad(f"needs a positive 'bandwidth_bytes_per_s' (per GPU, per direction), "
                  f"got {data.get('bandwidth_bytes_per_s')!r}")
    latency = data.get("latency_s", 0.0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or latency < 0:
        raise bad(f"has a negative or non-numeric 'latency_s' {latency!r}")
    return Link(
        name=data["name"],
        bandwidth_bytes_per_s=float(data["bandwidth_bytes_per_s"]),
        latency_s=float(latency),
        source=str(data.get("source", "")),
    )


def _mesh_order(value: Any, origin: str) -> tuple[str, ...]:
    if value is None:
        return DEFAULT_MESH_ORDER
    if (not isinstance(value, list) or sorted(value) != sorted(DEFAULT_MESH_ORDER)):
        raise UsageError(
            f"{origin}: mesh_order must list tp, pp and dp once each, innermost first, "
            f"got {value!r}; e.g. [\"tp\", \"pp\", \"dp\"]"
        )
    return tuple(value)


def _cluster_from_dict(data: Any, origin: str, accelerator: Accelerator | None = None) -> Cluster:
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: expected a JSON object, got {type(data).__name__}")
    if accelerator is None:
        given = data.get("accelerator")
        if isinstance(given, str):
            accelerator = get_accelerator(given)
        elif isinstance(given, dict):
            accelerator = accelerator_from_dict(given, f"{origin} accelerator")
        else:
            raise UsageError(f"{origin}: 'accelerator' must be a catalogue id (h100-sxm) or a "
                             "hardware-profile object")
    per_node = data.get("gpus_per_node", 8)
    if not isinstance(per_node, int) or isinstance(per_node, bool) or per_node < 1:
        raise UsageError(f"{origin}: gpus_per_node must be a positive integer, got {per_node!r}")
    efficiency = data.get("efficiency", DEFAULT_COMM_EFFICIENCY)
    if not _positive(efficiency) or efficiency > 1:
        raise UsageError(f"{origin}: efficiency is a fraction in (0, 1], got {efficiency!r}")
    return Cluster(
        name=str(data.get("name") or accelerator.id),
        accelerator=accelerator,
        gpus_per_node=per_node,
        scale_up=_link_from_dict(data.get("scale_up"), origin, "scale_up"),
        scale_out=_link_from_dict(data.get("scale_out"), origin, "scale_out"),
        efficiency=float(efficiency),
        mesh_order=_mesh_order(data.get("mesh_order"), origin),
        source=str(data.get("source", "")),
    )


@lru_cache(maxsize=1)
def _interconnect_table() -> dict[str, Any]:
    text = resources.files("flopwise.hardware").joinpath("interconnects.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)["interconnects"]
    return table


def interconnect_ids() -> tuple[str, ...]:
    """Catalogue ids that have interconnect figures.

    >>> "h100-sxm" in interconnect_ids(), "tpu-v4" in interconnect_ids()
    (True, False)
    """
    return tuple(_interconnect_table())


def cluster_for(accelerator: str | Accelerator) -> Cluster:
    """The usual cluster of a catalogue accelerator: its node, its scale-up and scale-out links.

    Raises :class:`~flopwise.errors.UsageError` for an entry with no interconnect figures
    (TPUs, MI250X, CPUs, a bench-device profile): describe those in a cluster file.
    """
    entry = get_accelerator(accelerator) if isinstance(accelerator, str) else accelerator
    row = _interconnect_table().get(entry.id)
    if row is None:
        raise UsageError(
            f"no interconnect figures for {entry.id} (the catalogue has them for "
            f"{', '.join(interconnect_ids())}); describe your cluster in a JSON file "
            "and pass it with --cluster (docs/parallel.md)"
        )
    return _cluster_from_dict(row, f"interconnects.json entry {entry.id}", entry)


def load_cluster(path: str | Path) -> Cluster:
    """Read a cluster file (schema ``flopwise.cluster/1``); one-line UsageError when it is bad."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"cluster file {file} not found; check the path (docs/parallel.md "
                         "shows the format)") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"cluster file {file} is not valid JSON ({error.msg} at line "
                         f"{error.lineno}); fix the file") from None
    if isinstance(data, dict) and data.get("schema", CLUSTER_SCHEMA) != CLUSTER_SCHEMA:
        raise UsageError(f"cluster file {file}: schema {data['schema']!r} is not "
                         f"{CLUSTER_SCHEMA!r}; write a flopwise cluster file")
    return _cluster_from_dict(data, str(file))


def get_cluster(cluster: str | Path | None, hardware: str | Accelerator) -> Cluster:
    """The cluster file ``cluster`` when given, else the catalogue's usual cluster of ``hardware``."""
    return cluster_for(hardware) if cluster is None else load_cluster(cluster)


@dataclass(frozen=True)
class GroupPlacement:
    """How one communication group lies over nodes: ``ranks`` in all, ``ranks_per_node`` of
    them sharing each node (so ``nodes = ranks / ranks_per_node``)."""

    ranks: int
    ranks_per_node: int

    @property
    def nodes(self) -> int:
        """Nodes the group spans."""
        return -(-self.ranks // self.ranks_per_node)


def place_group(dimension: str, sizes: dict[str, int], cluster: Cluster) -> GroupPlacement:
    """Where the group of one parallel dimension lies, ranks numbered by ``cluster.mesh_order``.

    A group's consecutive members are ``stride`` ranks apart, the product of the sizes of the
    dimensions inside it; ``gpus_per_node // stride`` of them share a node.

    >>> h100 = cluster_for("h100-sxm")
    >>> sizes = {"tp": 8, "pp": 4, "dp": 32}
    >>> place_group("tp", sizes, h100), place_group("dp", sizes, h100).ranks_per_node
    (GroupPlacement(ranks=8, ranks_per_node=8), 1)
    >>> place_group("dp", {"tp": 2, "pp": 1, "dp": 16}, h100)   # 4 replicas share a node
    GroupPlacement(ranks=16, ranks_per_node=4)
    """
    stride = 1
    for inner in cluster.mesh_order:
        if inner == dimension:
            break
        stride *= sizes.get(inner, 1)
    ranks = sizes.get(dimension, 1)
    # NB: assumes node boundaries align with the mesh (gpus_per_node a multiple of the stride).
    per_node = max(1, min(ranks, cluster.gpus_per_node // stride))
    return GroupPlacement(ranks=ranks, ranks_per_node=per_node)
