"""Smoke test of the peer benchmark's harness (bench/peers): one small model, flopwise and any
peer importable in this environment (FlopCounterMode always is: it ships with torch), in a few
seconds. The full benchmark is run by hand (`bash bench/peers/run.sh`), never in CI."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.peers import cases as bench_cases
from bench.peers.report import BEGIN, END, Results, render, write_section
from bench.peers.tools import TOOLS, tool_by_name
from bench.peers.worker import run_tool

SMALL = "squeezenet1_1"  # 0.349 GMACs at 224: a forward pass takes milliseconds


def _importable(tool_name: str) -> bool:
    module = tool_by_name(tool_name).module
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None and \
            importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


PEERS_HERE = [t.name for t in TOOLS if t.name != "flopwise" and _importable(t.name)]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """As in the benchmark: one thread (also kinder to a shared machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def flopwise_result(tmp_path_factory: pytest.TempPathFactory, _one_thread: None) -> dict:
    out = tmp_path_factory.mktemp("peers") / "flopwise.json"
    return run_tool(tool_by_name("flopwise"), [bench_cases.case_by_name(SMALL)], out,
                    log=lambda _line: None)


def test_flopwise_matches_the_published_figure(flopwise_result: dict) -> None:
    case = bench_cases.case_by_name(SMALL)
    real = flopwise_result["cases"][SMALL]["real"]
    assert real["error"] is None
    assert abs(real["macs"] - case.ref_macs) <= bench_cases.tolerance_macs(case)
    assert real["params"] == case.ref_params == 1_235_496
    assert real["forward_s"] > 0 and real["count_s"] > 0 and real["ratio"] > 0
    assert real["py_peak_bytes"] > 0
    meta = flopwise_result["cases"][SMALL]["meta"]
    assert meta["error"] is None and meta["macs"] == real["macs"]


def test_flopwise_features_are_found_by_running(flopwise_result: dict) -> None:
    features = flopwise_result["features"]
    assert features["params"] == "yes"
    assert features["MACs on the probe (110,752)"] == "exact"
    assert features["unsupported op"] == "reports the op by name"
    assert features["side effects on the model"] == "none"
    assert features["backward"].startswith("counted")


def test_results_are_cached(flopwise_result: dict, tmp_path: Path) -> None:
    out = tmp_path / "flopwise.json"
    out.write_text(json.dumps(flopwise_result))
    again = run_tool(tool_by_name("flopwise"), [bench_cases.case_by_name(SMALL)], out,
                     log=lambda line: pytest.fail(f"re-ran a cached case: {line}"))
    assert again["cases"] == flopwise_result["cases"]


@pytest.mark.parametrize("peer", PEERS_HERE)
def test_peer_runs_through_the_harness(peer: str, tmp_path: Path) -> None:
    result = run_tool(tool_by_name(peer), [bench_cases.case_by_name(SMALL)],
                      tmp_path / f"{peer}.json", log=lambda _line: None)
    real = result["cases"][SMALL]["real"]
    assert real["error"] is None and real["macs"] > 0


def test_report_rewrites_only_its_section(flopwise_result: dict, tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## FLOPs vs measured latency\n\nkept as written\n")
    env = {"command": "bash bench/peers/run.sh", "runtime_s": 1.0, "date": "2026-01-01",
           "cpu": "test CPU", "cores": 2, "memory_gib": 1.0, "platform": "test",
           "python": "3", "torch": "x", "torchvision": "x", "transformers": "x",
           "load": (1.0, None)}
    results = Results(env, [tool_by_name("flopwise")], [bench_cases.case_by_name(SMALL)],
                      {"flopwise": flopwise_result})
    write_section(doc, render(results))
    write_section(doc, render(results))
    text = doc.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert "## FLOPs vs measured latency\n\nkept as written\n" in text
    assert f"| {SMALL} |" in text and "**1 / 1**" in text


def test_hand_formulas_against_public_figures() -> None:
    # check-values.md: nanoGPT's GPT-2 forward on 1024 tokens is 291,648,307,200 FLOPs
    # (2 per MAC, no biases, LM head included, embeddings excluded)
    assert 2 * bench_cases.gpt2_macs(12, 1024, 768, 50257) == 291_648_307_200
    # verl's Llama-2-7B training FLOPs for sequences of 512, 1024 and 2048 tokens: 6× the
    # forward MACs, counting the embedding as a matmul too (s·V·h per sequence)
    lengths = (512, 1024, 2048)
    forward = sum(bench_cases.llama_macs(32, s, 4096, 32, 32, 11008, 32000) + s * 32000 * 4096
                  for s in lengths)
    assert 6 * forward == 153_555_818_250_240
    # LSTM: 4 gates, each W_i·x + W_h·h, per step and sample
    assert bench_cases.lstm_macs(3, 5, 1, 7, 2) == 7 * 2 * 4 * (3 * 5 + 5 * 5)
    assert bench_cases.lstm_params(3, 5, 1) == 4 * 5 * (3 + 5) + 2 * 4 * 5
