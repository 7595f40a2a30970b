"""The plan search: what it enumerates, drops and ranks; its CLI; no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.errors import UsageError
from flopwise.hardware.interconnect import cluster_for
from flopwise.llm.config import load_spec
from flopwise.llm.search import candidate_layouts, default_global_batch, search

runner = CliRunner()


@pytest.fixture(scope="module")
def llama70b_1024():  # type: ignore[no-untyped-def]
    return search(load_spec("llama-3-70b"), gpus=1024, hardware="h100-sxm", seq=2048)


def test_best_layout_fits_and_ranking_is_sorted(llama70b_1024) -> None:  # type: ignore[no-untyped-def]
    result = llama70b_1024
    assert result.best.memory.fits and result.best.layout.gpus == 1024
    assert all(step.memory.fits for step in result.ranked)
    times = [step.step_s for step in result.ranked]
    assert times == sorted(times)
    # the naive layout (dp 1024, ZeRO-0) needs 16 bytes per parameter: 1.13 TB, so it is dropped
    assert result.too_big > 0 and result.considered == result.fitting + result.too_big
    assert not any(s.layout.tp == 1 and s.layout.pp == 1 and s.layout.zero == 0 for s in result.ranked)
    # 2,048 sequences of 2,048 tokens = 4 Mi tokens per step, every layout the same
    assert {s.tokens_per_step for s in result.ranked} == {4 * 2**20}


def test_candidates_respect_heads_node_and_batch() -> None:
    h100 = cluster_for("h100-sxm")
    layouts = candidate_layouts(load_spec("llama-2-7b"), 64, 128, h100)
    assert {layout.tp for layout in layouts} == {1, 2, 4, 8}             # a node holds 8
    assert all(layout.gpus == 64 for layout in layouts)
    assert all(layout.global_batch == 128 for layout in layouts)
    assert all(layout.zero == 0 for layout in layouts if layout.dp == 1)
    # 12 heads (GPT-2): tp 8 does not divide them
    assert 8 not in {layout.tp for layout in candidate_layouts(load_spec("gpt2"), 8, 64, h100)}


def test_default_global_batch() -> None:
    assert default_global_batch(4096, 64) == 1024                       # 4 Mi tokens / 4096
    assert default_global_batch(8192, 1024) == 1024                     # 512 < one per GPU


def test_nothing_fits_is_one_clear_line() -> None:
    result = search(load_spec("llama-3.1-405b"), gpus=8, hardware="h100-sxm", seq=2048)
    assert result.fitting == 0
    with pytest.raises(UsageError, match="no layout of llama-3.1-405b on 8 GPUs fits; the smallest needs"):
        _ = result.best


def test_cli_search_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["llm", "llama-3-70b", "--gpus", "1024", "--hardware", "h100-sxm",
                                 "--search", "--format", "json", "--top", "3"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["schema"] == "flopwise.llm-search/1"
    assert len(document["plans"]) == 3 and document["plans"][0]["memory"]["fits"]
    best = document["plans"][0]
    assert best["layout"]["gpus"] == 1024
    assert best["step_s"] == pytest.approx(
        best["compute_s"] + best["exposed_comm_s"] + best["bubble_s"])
    assert document["cluster"]["scale_up"]["bandwidth_bytes_per_s"] == 450e9


def test_cli_search_table_and_markdown() -> None:
    table = runner.invoke(app, ["llm", "llama-2-7b", "--gpus", "64", "--search"], env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    for text in ("Fastest layouts that fit", "exposed comm", "Memory per GPU", "collectives at 70%"):
        assert text in table.stdout
    markdown = runner.invoke(app, ["llm", "llama-2-7b", "--gpus", "64", "--search", "-f", "md"])
    assert markdown.stdout.startswith("# Parallel plans: llama-2-7b on 64 × h100-sxm")


def test_cli_step_times_the_given_layout() -> None:
    result = runner.invoke(app, ["llm", "llama-2-7b", "--gpus", "64", "--tp", "8", "--zero", "1",
                                 "--step", "--global-batch", "256", "-f", "json"])
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)["plans"]
    assert len(plans) == 1
    layout = plans[0]["layout"]
    # 256 sequences over dp = 64 / 8 = 8 replicas, micro-batches of 1 -> 32 per replica
    assert (layout["tp"], layout["dp"], layout["zero"], layout["micro_batches"]) == (8, 8, 1, 32)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--search"], "--search needs --gpus"),
     (["--gpus", "48", "--tp", "3", "--step"], "does not divide the 32 attention heads"),
     (["--gpus", "64", "--tp", "3", "--step"], "--gpus 64 is not tp·pp·dp = 3·1·21"),
     (["--gpus", "64", "--step", "--global-batch", "100"], "--global-batch 100 is not a multiple"),
     (["--gpus", "64", "--search", "--cluster", "missing.json"], "cluster file missing.json not found"),
     (["--gpus", "64", "--search", "--hardware", "tpu-v4"], "no interconnect figures for tpu-v4")],
    ids=["no-gpus", "bad-tp", "gpus-not-product", "batch-not-multiple", "no-cluster-file", "no-interconnect"],
)
def test_cli_errors_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["llm", "llama-2-7b", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_search_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from flopwise.cli import main\n"
        "sys.argv = ['flopwise', 'llm', 'llama-3-70b', '--gpus', '1024', '--search', '-f', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(completed.stdout)["plans"][0]["memory"]["fits"]
