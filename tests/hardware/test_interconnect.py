"""Interconnect figures, cluster files and the placement of groups over nodes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flopwise.errors import UsageError
from flopwise.hardware.catalogue import catalogue_ids
from flopwise.hardware.interconnect import (
    GroupPlacement,
    cluster_for,
    get_cluster,
    interconnect_ids,
    load_cluster,
    place_group,
)


@pytest.mark.parametrize(
    ("accelerator", "scale_up", "scale_out"),
    [
        ("v100-sxm2", 300e9 / 2, 4 * 100e9 / 8 / 8),   # NVLink 2 300 GB/s both ways; 4 EDR ports / 8 GPUs
        ("a100-80gb", 600e9 / 2, 200e9 / 8),           # NVLink 3 600 GB/s both ways; HDR 200 Gb/s
        ("h100-sxm", 900e9 / 2, 400e9 / 8),            # NVLink 4 900 GB/s; NDR 400 Gb/s
        ("h100-pcie", 128e9 / 2, 400e9 / 8),           # PCIe Gen5 x16 128 GB/s both ways
        ("b200", 1.8e12 / 2, 400e9 / 8),               # NVLink 5 1.8 TB/s
        ("mi300x", 896e9 / 2, 400e9 / 8),              # Infinity Fabric 896 GB/s aggregate peer
    ],
    ids=lambda value: str(value),
)
def test_links_are_per_direction(accelerator: str, scale_up: float, scale_out: float) -> None:
    cluster = cluster_for(accelerator)
    assert cluster.gpus_per_node == 8
    assert cluster.scale_up.bandwidth_bytes_per_s == pytest.approx(scale_up)
    assert cluster.scale_out.bandwidth_bytes_per_s == pytest.approx(scale_out)


def test_every_interconnect_has_a_catalogue_entry_and_sources() -> None:
    assert set(interconnect_ids()) <= set(catalogue_ids())
    for accelerator in interconnect_ids():
        cluster = cluster_for(accelerator)
        assert cluster.scale_up.source and cluster.scale_out.source
        assert cluster.scale_up.bandwidth_bytes_per_s > cluster.scale_out.bandwidth_bytes_per_s


def test_no_figures_names_the_cluster_file() -> None:
    with pytest.raises(UsageError, match="--cluster"):
        cluster_for("tpu-v4")


def test_cluster_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "h100.json"
    path.write_text(json.dumps(cluster_for("h100-sxm").to_dict()))
    assert load_cluster(path) == cluster_for("h100-sxm")
    assert get_cluster(path, "a100-80gb") == cluster_for("h100-sxm")   # the file wins
    assert get_cluster(None, "a100-80gb") == cluster_for("a100-80gb")


def _custom(tmp_path: Path, **changes: object) -> Path:
    data = {
        "schema": "flopwise.cluster/1", "name": "lab", "accelerator": "a100-80gb",
        "gpus_per_node": 4,
        "scale_up": {"name": "NVLink bridge", "bandwidth_bytes_per_s": 100e9, "latency_s": 2e-6},
        "scale_out": {"name": "RoCE 100G", "bandwidth_bytes_per_s": 12.5e9},
        "efficiency": 0.6, "mesh_order": ["dp", "tp", "pp"],
    }
    data.update(changes)
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(data))
    return path


def test_custom_cluster_places_dp_innermost(tmp_path: Path) -> None:
    cluster = load_cluster(_custom(tmp_path))
    assert (cluster.gpus_per_node, cluster.efficiency, cluster.scale_out.latency_s) == (4, 0.6, 0.0)
    sizes = {"tp": 4, "pp": 2, "dp": 2}
    assert place_group("dp", sizes, cluster) == GroupPlacement(2, 2)   # stride 1
    assert place_group("tp", sizes, cluster) == GroupPlacement(4, 2)   # stride 2: 4 // 2 per node
    assert place_group("pp", sizes, cluster) == GroupPlacement(2, 1)   # stride 8 > 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"scale_up": None}, "scale_up must be an object"),
        ({"scale_out": {"name": "x", "bandwidth_bytes_per_s": 0}}, "positive 'bandwidth_bytes_per_s'"),
        ({"efficiency": 1.5}, "efficiency is a fraction"),
        ({"mesh_order": ["tp", "dp"]}, "mesh_order must list tp, pp and dp"),
        ({"gpus_per_node": 0}, "gpus_per_node must be a positive integer"),
        ({"accelerator": 7}, "'accelerator' must be a catalogue id"),
        ({"schema": "other/1"}, "is not 'flopwise.cluster/1'"),
    ],
    ids=["no-scale-up", "zero-bandwidth", "efficiency", "mesh-order", "node-size", "accelerator", "schema"],
)
def test_bad_cluster_files_are_one_line(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        load_cluster(_custom(tmp_path, **changes))
    assert "\n" not in str(error.value)


def test_unreadable_cluster_files(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        load_cluster(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_cluster(bad)


def test_default_placement_keeps_tp_in_a_node() -> None:
    h100 = cluster_for("h100-sxm")
    sizes = {"tp": 4, "pp": 4, "dp": 64}
    assert place_group("tp", sizes, h100) == GroupPlacement(4, 4)
    assert place_group("pp", sizes, h100) == GroupPlacement(4, 2)    # stride 4: two stages per node
    assert place_group("dp", sizes, h100) == GroupPlacement(64, 1)   # stride 16
