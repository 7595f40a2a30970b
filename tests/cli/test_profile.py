"""``flopwise profile --generate ... --batch ...``: the serving section from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app

runner = CliRunner()
H, HEADS, KV_HEADS, D, FFN, VOCAB, LAYERS = 64, 4, 2, 16, 128, 100, 2


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("llama") / "config.json"
    path.write_text(json.dumps({
        "model_type": "llama", "hidden_size": H, "intermediate_size": FFN,
        "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS, "vocab_size": VOCAB}))
    return path


def test_generate_json(config: Path) -> None:
    result = runner.invoke(app, ["profile", f"hf:{config}", "--generate", "prompt=10,new=6",
                                 "--batch", "1,4", "--hardware", "h100-sxm", "-c", "matmul",
                                 "-f", "json"])
    assert result.exit_code == 0, result.output
    serving = json.loads(result.stdout)["serving"]
    assert (serving["prompt_tokens"], serving["new_tokens"], serving["cache"]) == (10, 6, "dynamic")
    # 2·(2 layers·(12288 projections + 24576 MLP) + 64·100 head) = 160256, 2·2 layers·2·64 per key
    assert serving["decode"][0]["flops_formula"] == "160256 + 512·c"
    assert serving["kv_bytes_end"] == 2 * LAYERS * KV_HEADS * D * 4 * 15     # c = 10 + 5
    assert [row["batch"] for row in serving["hardware"]["times"]] == [1, 4]


def test_generate_table(config: Path) -> None:
    result = runner.invoke(app, ["profile", f"hf:{config}", "--generate",
                                 "prompt=10,new=6,cache=static", "--hardware", "h100-sxm"])
    assert result.exit_code == 0, result.output
    assert "Serving: 1 × 10 prompt tokens + 6 new, static cache" in result.stdout
    assert "h100-sxm, batch 1" in result.stdout and "TTFT" in result.stdout


@pytest.mark.parametrize(("args", "fragment"), [
    (["--generate", "prompt=10"], "needs both prompt= and new="),
    (["--generate", "prompt=10,new=1"], "new ≥ 2"),
    (["--generate", "prompt=10,new=4,cache=paged"], "cache= is dynamic or static"),
    (["--batch", "1,8"], "add --generate prompt=N,new=M"),
    (["--generate", "prompt=10,new=4", "--batch", "1,x"], "--batch takes batch sizes"),
], ids=["no-new", "one-token", "cache", "batch-alone", "batch-text"])
def test_usage_errors(config: Path, args: list[str], fragment: str) -> None:
    result = runner.invoke(app, ["profile", f"hf:{config}", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0]
