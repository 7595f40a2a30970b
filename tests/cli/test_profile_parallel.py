"""``flopwise profile --world N --parallel ...``: recipes applied in a simulated world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app

runner = CliRunner()

# A two-block Llama: per block q, o 64·64, k, v 64·32 (2 KV heads of 16), MLP 3·64·128,
# two norms of 64 -> 36,992 parameters; root: embedding and head 256·64 each, final norm 64.
TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "vocab_size": 256, "max_position_embeddings": 128}
BLOCK = 2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64
ROOT = 2 * 256 * 64 + 64


@pytest.fixture()
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(TINY))
    return f"hf:{path}"


def test_fsdp_world_of_8(tiny: str) -> None:
    result = runner.invoke(app, ["profile", tiny, "--input", "1,32", "--backward", "--world", "8",
                                 "--parallel", "fsdp", "-f", "json"])
    assert result.exit_code == 0, result.output
    comm = json.loads(result.stdout)["comm"]
    assert {row["group_size"] for row in comm["collectives"]} == {8}
    params = 2 * BLOCK + ROOT                      # 106,816 fp32 parameters
    # forward: gather everything; backward: gather the blocks again (the root stays gathered),
    # reduce-scatter every gradient; each rank sends 7/8 of every payload
    payload = 4 * (params + 2 * BLOCK + params)
    assert comm["payload_bytes"] == payload
    assert comm["comm_bytes"] == payload * 7 // 8


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--world", "8"], "--world N and --parallel RECIPES go together"),
     (["--world", "8", "--parallel", "fsdp,tp"], "needs a mesh naming each dimension"),
     (["--world", "8", "--mesh", "pp=4,tp=2", "--parallel", "pp,tp"], "pp,tp is not simulated"),
     (["--world", "8", "--mesh", "ep=4,tp=2", "--parallel", "ep,tp"], "ep,tp is not simulated"),
     (["--world", "8", "--mesh", "dp=4,tp=4", "--parallel", "tp"], "holds 16 ranks, not world_size=8"),
     (["--world", "2", "--parallel", "pp"], "--parallel pp times a training step"),
     (["--world", "2", "--parallel", "fsdp", "--micro-batches", "2"], "add pp to --parallel"),
     (["--world", "2", "--parallel", "zero"], "--parallel 'zero'"),
     (["--world", "2", "--parallel", "ep", "--backward"], "ep found no mixture-of-experts"),
     (["--world", "3", "--parallel", "pp", "--backward"], "pp=3 stages cannot split 2")],
    ids=["no-recipe", "no-mesh", "pp-tp", "ep-tp", "mesh-size", "pp-forward", "micro-no-pp",
         "unknown", "ep-dense", "pp-too-many"],
)
def test_unsupported_combinations_are_one_line(tiny: str, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["profile", tiny, "--input", "1,32", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_pipeline_of_two_stages(tiny: str) -> None:
    """--parallel pp on 2 ranks, 4 sequences of 32 in 2 micro-batches: stage 0 (embedding +
    block 0) and stage 1 (block 1 + head); each sends one 2·32·64 fp32 boundary per
    micro-batch; bubble (2 − 1)/2."""
    result = runner.invoke(app, ["profile", tiny, "--input", "4,32", "--backward", "--world", "2",
                                 "--parallel", "pp", "--micro-batches", "2", "--hardware",
                                 "h100-sxm", "-f", "json"])
    assert result.exit_code == 0, result.output
    pipeline = json.loads(result.stdout)["pipeline"]
    assert pipeline["bubble_fraction"] == 0.5
    assert pipeline["boundary_bytes"] == 2 * 32 * 64 * 4
    stages = pipeline["stages"]
    assert [s["params"] for s in stages] == [256 * 64 + BLOCK, BLOCK + 256 * 64 + 64]
    assert [s["send_bytes"] for s in stages] == [2 * 32 * 64 * 4] * 2
    assert pipeline["hardware"] == "h100-sxm" and pipeline["step_s"] > 0
