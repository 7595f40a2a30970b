"""The ``comm`` section: JSON round trip, schema 2 with schema-1 files still read, the diff's
``comm_bytes`` line, and the tree column."""

from __future__ import annotations

import json

import pytest
import torch
from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

import flopwise
from flopwise.diff import diff_reports
from flopwise.distributed import CommReport, simulate
from flopwise.render.columns import default_columns
from flopwise.saved import load_report

T, D, H = 4, 8, 32


@pytest.fixture(scope="module")
def tp_report():
    """A tensor-parallel MLP on 4 simulated ranks: one all-reduce of T·D fp32 forward."""
    with simulate(world_size=4) as mesh:
        mlp = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, D))
        parallelize_module(mlp, mesh, {"0": ColwiseParallel(), "2": RowwiseParallel()})
        return flopwise.profile(mlp, torch.randn(T, D))


def test_the_section_round_trips_and_sums(tp_report):
    comm = tp_report.comm
    payload = T * D * 4                                       # 128 B
    assert (comm.rank, comm.world_size, comm.backend) == (0, 4, "fake")
    assert comm.comm_bytes == 2 * 3 * payload // 4            # 192
    assert comm.phases == {"forward": 192}
    assert comm.module("").comm_bytes == 192                  # the root holds everything
    assert CommReport.from_dict(json.loads(json.dumps(comm.to_dict()))) == comm
    data = tp_report.to_dict()
    assert data["schema"] == 2 and data["comm"]["comm_bytes"] == 192
    assert data["comm"]["collectives"][0]["algorithm"] == "ring"
    # params stay logical; this rank holds a quarter of each sharded weight, all of 2's bias
    assert tp_report.params == (D * H + H) + (H * D + D)
    assert comm.local_params == (D * H + H + H * D) // 4 + D


def test_the_tree_shows_comm_bytes_when_there_are_any(tp_report):
    assert "comm_bytes" in [c.key for c in default_columns(tp_report)]
    assert "comm (B)" in str(tp_report)


def test_schema_1_files_load_and_diff_against_schema_2(tp_report, tmp_path):
    new = tp_report.to_dict()
    old = {key: value for key, value in new.items() if key != "comm"}
    old["schema"] = 1
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(old))
    assert load_report(path)["schema"] == 1
    change = diff_reports(load_report(path), new)
    assert change.totals["comm_bytes"].before == 0 and change.totals["comm_bytes"].after == 192
    assert "comm_bytes" not in diff_reports(old, old).totals


def test_no_comm_section_without_a_process_group():
    report = flopwise.profile(torch.nn.Linear(2, 2), torch.randn(1, 2))
    assert report.comm is None and "comm" not in report.to_dict()


def test_the_html_report_shows_the_section_and_the_column(tp_report):
    from flopwise.render.html import render_html

    page = render_html(tp_report)
    assert '<h3>comm</h3>' in page and "comm_bytes" in page
