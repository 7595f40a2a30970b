"""``flopwise llm`` through typer's CliRunner, and once in a fresh interpreter (no torch)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.cli.llm import parse_sweep
from flopwise.errors import UsageError
from flopwise.llm.presets import preset_names

runner = CliRunner()
WIDE = {"COLUMNS": "200"}
SNAPSHOTS = Path(__file__).with_name("snapshots")


def _json(*args: str) -> dict:
    result = runner.invoke(app, ["llm", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_json_contract() -> None:
    document = _json("llama-2-7b", "--seq", "4096", "--hardware", "a100-80gb", "--tokens", "2T",
                     "--gpus", "64", "--tp", "8", "--zero", "1", "--recompute", "selective", "--sp")
    assert document["schema"] == 1
    assert document["params"]["total"] == 6_738_415_616
    assert document["settings"]["tokens"] == 2 * 10**12
    assert (document["settings"]["tp"], document["settings"]["dp"]) == (8, 8)
    assert document["flops"]["training_total"] == document["flops"]["training_per_token"] * 2 * 10**12
    assert set(document["memory"]) >= {"weights_bytes", "kv_cache_bytes", "activation_bytes",
                                       "optimizer_bytes", "per_gpu_bytes"}
    assert document["time"]["training_s"] > 0


def test_table_has_every_section() -> None:
    result = runner.invoke(app, ["llm", "mixtral-8x7b", "--hardware", "h100-sxm"], env=WIDE)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for title in ("Parameters", "FLOPs (matmul: 2 per MAC)", "shortcuts vs flopwise",
                  "Weights by dtype", "Memory per GPU", "Time"):
        assert title in out
    assert "12.88 G (12,879,925,248)" in out   # active parameters
    assert "46.70 G (46,702,792,704)" in out   # total
    assert "square full" in out and "Megatron-96" in out and "decode throughput" in out


def test_markdown_snapshot() -> None:
    result = runner.invoke(app, ["llm", "llama-2-7b", "--seq", "4096", "--hardware", "a100-80gb",
                                 "--tokens", "2T", "--gpus", "64", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (SNAPSHOTS / "llama-2-7b.md").read_text(encoding="utf-8")


def test_sweep_json_and_table() -> None:
    document = _json("gpt2", "--sweep", "seq=256,512,1024", "--hardware", "h100-sxm")
    assert document["sweep"] == "seq"
    assert [row["settings"]["seq"] for row in document["rows"]] == [256, 512, 1024]
    result = runner.invoke(app, ["llm", "gpt2", "--sweep", "batch=1,8"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Sweep over batch" in result.stdout


def test_list_presets() -> None:
    result = runner.invoke(app, ["llm", "--list-presets"], env=WIDE)
    assert result.exit_code == 0, result.output
    for name in preset_names():
        assert name in result.stdout


def test_config_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336,
                                "num_hidden_layers": 32, "num_attention_heads": 32,
                                "num_key_value_heads": 8, "vocab_size": 32000, "sliding_window": 4096}))
    document = _json(str(path), "--hardware", "h100-sxm")
    assert document["params"]["total"] == 7_241_732_096
    assert document["model"]["source"] == str(path)


def test_explicit_dimensions() -> None:
    document = _json("--hidden", "4096", "--layers", "32", "--heads", "32", "--vocab", "32000",
                     "--hardware", "h100-sxm")
    assert document["params"]["total"] == 6_738_415_616  # Llama-2-7B's shape by default
    moe = _json("--hidden", "64", "--layers", "2", "--heads", "4", "--vocab", "100", "--ffn", "128",
                "--experts", "4", "--top-k", "2", "--hardware", "h100-sxm")
    h, l, v, f = 64, 2, 100, 128
    block = 4 * h * h + h * 4 + 4 * 3 * h * f + 2 * h
    assert moe["params"]["total"] == l * block + 2 * v * h + h


def test_dimensions_override_a_preset() -> None:
    document = _json("llama-2-7b", "--kv-heads", "8", "--hardware", "h100-sxm")
    h, l, d, f, v = 4096, 32, 128, 11008, 32000
    assert document["params"]["total"] == l * (2 * h * h + 2 * h * 8 * d + 3 * h * f + 2 * h) + 2 * v * h + h


def test_output_file(tmp_path: Path) -> None:
    target = tmp_path / "plan.md"
    result = runner.invoke(app, ["llm", "gpt2", "-f", "md", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8").startswith("# gpt2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["llama2-7b"], "did you mean llama-2-7b"),
        (["--hidden", "64"], "--layers, --heads, --vocab missing"),
        (["gpt2", "--sweep", "depth=1,2"], "KEY is one of seq, batch"),
        (["gpt2", "--tokens", "lots"], "--tokens 'lots'"),
        (["gpt2", "--hardware", "a100"], "a100-"),
    ],
    ids=["preset-typo", "missing-dims", "bad-sweep", "bad-tokens", "hardware-typo"],
)
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["llm", *args], env=WIDE)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_malformed_config_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}))
    result = runner.invoke(app, ["llm", str(path)], env=WIDE)
    assert result.exit_code == 2
    assert f"{path}: missing field 'num_hidden_layers'" in result.output


def test_parse_sweep() -> None:
    assert parse_sweep("seq=1k,2k") == ("seq", [1000, 2000])
    with pytest.raises(UsageError):
        parse_sweep("seq=")


def test_cli_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from flopwise.cli import main\n"
        "sys.argv = ['flopwise', 'llm', 'llama-3-70b', '--format', 'json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    assert not done.code, done.code\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert json.loads(completed.stdout)["params"]["total"] == 70_553_706_496
