"""``flopwise hardware`` and ``flopwise bench-device`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli import app
from flopwise.hardware import get_accelerator

runner = CliRunner()


def test_hardware_table_lists_every_entry_with_units() -> None:
    result = runner.invoke(app, ["hardware"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    for accelerator_id in ("v100-sxm2", "h100-sxm", "b200", "mi300x", "tpu-v5p", "cpu-avx2-8c"):
        assert accelerator_id in result.stdout
    for header in ("BF16 FLOP/s", "INT8 OP/s", "memory GiB", "bandwidth B/s"):
        assert header in result.stdout
    h100_row = next(line for line in result.stdout.splitlines() if "h100-sxm" in line)
    assert "989.40 T" in h100_row       # bf16
    assert "74.51 GiB" in h100_row      # 80e9 bytes / 2**30
    assert "3.35 TB/s" in h100_row


def test_hardware_json_is_the_whole_catalogue() -> None:
    result = runner.invoke(app, ["hardware", "--format", "json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    rows = {row["id"]: row for row in document["accelerators"]}
    assert rows["h100-sxm"]["peak_flops"]["bf16"] == 989.4e12
    assert rows["h100-sxm"]["bandwidth_bytes_per_s"] == 3.35e12
    assert rows["tpu-v4"]["memory_bytes"] == 32 * 2**30
    assert "fp32" not in rows["tpu-v4"]["peak_flops"]


def test_hardware_one_entry_shows_sources() -> None:
    result = runner.invoke(app, ["hardware", "H100-SXM"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "H100 datasheet (transcribed)" in result.stdout
    assert "989.40 TFLOP/s" in result.stdout
    assert "ridge point 295.3 FLOP/byte" in result.stdout   # 989.4e12 / 3.35e12
    assert "80.00 GB = 74.51 GiB" in result.stdout


def test_hardware_one_entry_json_is_a_loadable_profile(tmp_path: Path) -> None:
    path = tmp_path / "mi300x.json"
    result = runner.invoke(app, ["hardware", "mi300x", "-f", "json", "-o", str(path)])
    assert result.exit_code == 0, result.output
    assert get_accelerator(str(path)) == get_accelerator("mi300x")


def test_hardware_table_to_file_has_no_colour_codes(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.txt"
    result = runner.invoke(app, ["hardware", "-o", str(path)])
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert "h100-sxm" in text and "\x1b[" not in text


@pytest.mark.parametrize(
    ("name", "matches"),
    [("h100", "close matches: h100-sxm, h100-pcie"), ("tpu-v5", "close matches: tpu-v5e, tpu-v5p")],
)
def test_hardware_unknown_name_exits_2_with_close_matches(name: str, matches: str) -> None:
    result = runner.invoke(app, ["hardware", name], env={"COLUMNS": "400"})
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: unknown hardware '{name}'")
    assert matches in lines[0]
    assert result.stdout == ""


def test_hardware_bad_profile_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"id": "x", "name": "x", "peak_flops": {"fp32": 1e9}, "source": "s",
                                "memory_bytes": 10}))
    result = runner.invoke(app, ["hardware", str(path)], env={"COLUMNS": "400"})
    assert result.exit_code == 2
    assert "missing field 'bandwidth_bytes_per_s'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
