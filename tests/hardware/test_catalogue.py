"""The catalogue against the figures of shared/reference/accelerators.md, written as literals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from flopwise.errors import UsageError
from flopwise.hardware import (
    PRECISIONS,
    Accelerator,
    accelerator_from_dict,
    catalogue_ids,
    get_accelerator,
    load_catalogue,
    load_profile,
    precision_of,
)

GB = 10**9  # vendors' decimal gigabyte
GIB = 2**30

# id -> (fp64, fp32, tf32, bf16, fp16, fp8, int8) in TFLOP/s (TOPS for int8); None = "—".
# Read from the reference table; the BF16/FP16 column is split where the hardware has only one
# of the two (V100: FP16 tensor cores only; TPUs: bf16 MXUs only).
EXPECTED_PEAKS_T = {
    "v100-sxm2": (7.8, 15.7, None, None, 125, None, None),
    "a100-40gb": (9.7, 19.5, 156, 312, 312, None, 624),
    "a100-80gb": (9.7, 19.5, 156, 312, 312, None, 624),
    "h100-sxm": (34, 67, 494.7, 989.4, 989.4, 1978.9, 1979),
    "h100-pcie": (26, 51, 378, 756.5, 756.5, 1513, 1513),
    "h200": (34, 67, 494.7, 989.4, 989.4, 1979, 1979),
    "b200": (40, 80, 1100, 2250, 2250, 4500, 4500),
    "l4": (None, 30.3, 60, 121, 121, 242.5, 242.5),
    "l40s": (None, 91.6, 183, 362.05, 362.05, 733, 733),
    "rtx-4090": (1.29, 82.6, 82.6, 165.2, 165.2, 330.3, 660.6),
    "mi250x": (47.9, 47.9, None, 383, 383, None, 383),
    "mi300x": (81.7, 163.4, 653.7, 1307.4, 1307.4, 2614.9, 2614.9),
    "tpu-v4": (None, None, None, 275, None, None, 275),
    "tpu-v5e": (None, None, None, 197, None, None, 393),
    "tpu-v5p": (None, None, None, 459, None, None, 918),
}

# id -> (memory bytes, bandwidth bytes/s)
EXPECTED_MEMORY = {
    "v100-sxm2": (32 * GB, 900e9),
    "a100-40gb": (40 * GB, 1555e9),
    "a100-80gb": (80 * GB, 2039e9),
    "h100-sxm": (80 * GB, 3.35e12),
    "h100-pcie": (80 * GB, 2.0e12),
    "h200": (141 * GB, 4.8e12),
    "b200": (192 * GB, 8e12),
    "l4": (24 * GB, 300e9),
    "l40s": (48 * GB, 864e9),
    "rtx-4090": (24 * GB, 1008e9),
    "mi250x": (128 * GB, 3.2e12),
    "mi300x": (192 * GB, 5.3e12),
    "tpu-v4": (32 * GIB, 1200e9),  # Google states 32 GiB
    "tpu-v5e": (16 * GB, 819e9),
    "tpu-v5p": (95 * GB, 2765e9),
}

EXPECTED_SOURCES = {
    "v100-sxm2": "V100 datasheet (transcribed)",
    "a100-40gb": "A100 datasheet (transcribed)",
    "a100-80gb": "A100 datasheet (transcribed)",
    "h100-sxm": "H100 datasheet (transcribed)",
    "h100-pcie": "H100 datasheet (transcribed)",
    "h200": "H200 product brief (transcribed)",
    "b200": "B200 spec (transcribed)",
    "l4": "L4 datasheet (transcribed)",
    "l40s": "L40S datasheet (transcribed)",
    "rtx-4090": "Ada whitepaper (transcribed)",
    "mi250x": "AMD ROCm docs (MI250 scaled to 220 CUs)",
    "mi300x": "AMD ROCm docs, MI300X peak table",
    "tpu-v4": "Cloud TPU docs",
    "tpu-v5e": "Cloud TPU docs",
    "tpu-v5p": "Cloud TPU docs",
}

# Sparsity peaks vendors print (2x dense) that must never appear as a stored peak.
SPARSE_FIGURES = {
    "h100-sxm": (1978.9e12, 3957.8e12),  # bf16 sparse, fp8 sparse
    "a100-80gb": (624e12, 1248e12),       # bf16 sparse, int8 sparse
    "l40s": (724.1e12, 1466e12),
}


def test_catalogue_lists_every_accelerator_of_the_issue() -> None:
    ids = set(catalogue_ids())
    assert set(EXPECTED_PEAKS_T) <= ids
    generic_cpus = [a for a in load_catalogue() if a.kind == "cpu"]
    assert len(generic_cpus) >= 2
    assert len(ids) == len(load_catalogue())  # unique


@pytest.mark.parametrize("accelerator_id", sorted(EXPECTED_PEAKS_T))
def test_peaks_match_reference(accelerator_id: str) -> None:
    entry = get_accelerator(accelerator_id)
    for precision, tflops in zip(PRECISIONS, EXPECTED_PEAKS_T[accelerator_id]):
        if tflops is None:
            assert precision not in entry.peak_flops, precision
        else:
            assert entry.peak_flops[precision] == pytest.approx(tflops * 1e12, rel=1e-12), precision


@pytest.mark.parametrize("accelerator_id", sorted(EXPECTED_MEMORY))
def test_memory_and_bandwidth_match_reference(accelerator_id: str) -> None:
    entry = get_accelerator(accelerator_id)
    memory_bytes, bandwidth = EXPECTED_MEMORY[accelerator_id]
    assert entry.memory_bytes == memory_bytes
    assert isinstance(entry.memory_bytes, int)
    assert entry.bandwidth_bytes_per_s == pytest.approx(bandwidth, rel=1e-12)


@pytest.mark.parametrize("accelerator_id", sorted(EXPECTED_SOURCES))
def test_sources_copied_from_reference(accelerator_id: str) -> None:
    assert get_accelerator(accelerator_id).source == EXPECTED_SOURCES[accelerator_id]


def test_h100_headline_figures() -> None:
    h100 = get_accelerator("h100-sxm")
    assert h100.peak_for("bfloat16") == 989.4e12
    assert h100.bandwidth_bytes_per_s == 3.35e12
    assert h100.fp64_tensor_flops_per_s == 67e12


def test_every_entry_has_a_source_and_plausible_numbers() -> None:
    for entry in load_catalogue():
        assert entry.source.strip(), entry.id
        assert entry.id == entry.id.lower()
        assert entry.peak_flops and all(v > 0 for v in entry.peak_flops.values())
        assert entry.memory_bytes > 0 and entry.bandwidth_bytes_per_s > 0
        # bf16 and fp16 tensor peaks never exceed the fp8 one (a sparse figure would)
        if "fp8" in entry.peak_flops and "bf16" in entry.peak_flops:
            assert entry.peak_flops["bf16"] < entry.peak_flops["fp8"]


def test_generic_cpus_are_labelled_illustrative_with_derivation() -> None:
    for entry in load_catalogue():
        if entry.kind == "cpu":
            assert "illustrative" in entry.name.lower()
            assert "illustrative" in entry.source
            assert "GHz" in entry.notes and "GB/s" in entry.notes


def test_generic_avx2_cpu_derivation() -> None:
    cpu = get_accelerator("cpu-avx2-8c")
    assert cpu.peak_flops["fp32"] == 8 * 3.0e9 * 2 * 8 * 2  # cores x Hz x FMA units x lanes x 2
    assert cpu.bandwidth_bytes_per_s == 2 * 8 * 3.2e9       # channels x bytes x transfers/s
    assert cpu.memory_bytes == 32 * GIB


@pytest.mark.parametrize("accelerator_id", sorted(SPARSE_FIGURES))
def test_no_sparsity_figures_stored(accelerator_id: str) -> None:
    entry = get_accelerator(accelerator_id)
    stored = set(entry.peak_flops.values())
    # a sparse bf16 figure may coincide with a dense fp8/int8 one; it must not sit under bf16/fp16
    assert entry.peak_flops["bf16"] not in SPARSE_FIGURES[accelerator_id]
    assert SPARSE_FIGURES[accelerator_id][1] not in stored


def test_catalogue_file_has_no_sparsity_keys() -> None:
    text = (Path(__file__).parents[2] / "src/flopwise/hardware/catalogue.json").read_text()
    for row in json.loads(text)["accelerators"]:
        assert set(row["peak_flops"]) <= set(PRECISIONS)
        assert not any("spars" in key for key in row)


@pytest.mark.parametrize(
    ("dtype_name", "expected"),
    [
        ("float32", 67e12),
        ("torch.float32", 67e12),
        ("float", 67e12),
        ("bfloat16", 989.4e12),
        ("float16", 989.4e12),
        ("half", 989.4e12),
        ("float8_e4m3fn", 1978.9e12),
        ("float8_e5m2", 1978.9e12),
        ("int8", 1979e12),
        ("float64", 34e12),
        ("bf16", 989.4e12),
    ],
)
def test_peak_for_torch_dtype_names(dtype_name: str, expected: float) -> None:
    assert get_accelerator("h100-sxm").peak_for(dtype_name) == expected


def test_peak_for_tensor_core_options() -> None:
    h100 = get_accelerator("h100-sxm")
    assert h100.peak_for("float32", allow_tf32=True) == 494.7e12
    assert h100.peak_for("float64", fp64_tensor=True) == 67e12
    tpu = get_accelerator("tpu-v4")
    assert tpu.find_peak("float32", allow_tf32=True) is None  # no tf32 either


def test_peak_for_undefined_precision_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match=r"v100-sxm2 has no bf16 peak .*it defines fp64, fp32, fp16"):
        get_accelerator("v100-sxm2").peak_for("bfloat16")
    with pytest.raises(UsageError, match="'int64'.*not a floating-point"):
        get_accelerator("h100-sxm").peak_for("int64")
    assert get_accelerator("h100-sxm").find_peak("bool") is None


def test_precision_of() -> None:
    assert precision_of("torch.float8_e4m3fnuz") == "fp8"
    assert precision_of("uint8") == "int8"
    assert precision_of("complex64") is None


@pytest.mark.parametrize(
    ("typed", "expected_id"),
    [("h100-sxm", "h100-sxm"), ("H100-SXM", "h100-sxm"), ("h100 sxm", "h100-sxm"),
     ("TPU_v5p", "tpu-v5p"), ("  mi300x ", "mi300x")],
)
def test_get_accelerator_forgives_case_and_separators(typed: str, expected_id: str) -> None:
    assert get_accelerator(typed).id == expected_id


@pytest.mark.parametrize(
    ("typed", "matches"),
    [("h100", "close matches: h100-sxm, h100-pcie;"),
     ("a100", "close matches: a100-40gb, a100-80gb;"),
     ("rtx4090", "close matches: rtx-4090;"),
     ("quantum-9000", "no close match;")],
)
def test_unknown_name_lists_close_matches(typed: str, matches: str) -> None:
    with pytest.raises(UsageError) as caught:
        get_accelerator(typed)
    message = str(caught.value)
    assert matches in message
    assert f"unknown hardware {typed!r}" in message
    assert "\n" not in message


def _profile(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "my-box",
        "name": "My box",
        "peak_flops": {"fp32": 1.5e11, "bf16": 4e11},
        "memory_bytes": 16 * GIB,
        "bandwidth_bytes_per_s": 25e9,
        "source": "measured by hand",
    }
    base.update(overrides)
    return base


def test_profile_file_round_trip(tmp_path: Path) -> None:
    original = get_accelerator("l40s")
    path = tmp_path / "l40s.json"
    path.write_text(json.dumps(original.to_dict()))
    assert get_accelerator(str(path)) == original
    assert get_accelerator(path) == original
    assert load_profile(path).peak_for("bfloat16") == 362.05e12


def test_profile_without_json_suffix_is_read_when_it_exists(tmp_path: Path) -> None:
    path = tmp_path / "box"
    path.write_text(json.dumps(_profile()))
    assert get_accelerator(str(path)).id == "my-box"


@pytest.mark.parametrize(
    "missing", ["id", "name", "peak_flops", "memory_bytes", "bandwidth_bytes_per_s", "source"]
)
def test_profile_missing_field_names_it(tmp_path: Path, missing: str) -> None:
    data = _profile()
    del data[missing]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(UsageError, match=f"missing field '{missing}'") as caught:
        get_accelerator(str(path))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"peak_flops": {"fp4": 1e12}}, "unknown precision 'fp4'"),
        ({"peak_flops": {"fp32": -1}}, "non-positive"),
        ({"peak_flops": {}}, "non-empty object"),
        ({"memory_bytes": 1.5e9}, "positive integer"),
        ({"bandwidth_bytes_per_s": "fast"}, "positive number"),
        ({"name": ""}, "non-empty string"),
    ],
    ids=["unknown-precision", "negative-peak", "no-peaks", "float-memory", "text-bandwidth", "empty-name"],
)
def test_profile_bad_fields(overrides: dict[str, object], complaint: str) -> None:
    with pytest.raises(UsageError, match=complaint):
        accelerator_from_dict(_profile(**overrides), "p.json")


def test_profile_errors_for_missing_file_and_bad_json(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        get_accelerator(str(tmp_path / "nope.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    with pytest.raises(UsageError, match="not valid JSON .* line 1"):
        get_accelerator(str(broken))
    listed = tmp_path / "list.json"
    listed.write_text("[]")
    with pytest.raises(UsageError, match="expected a JSON object"):
        get_accelerator(str(listed))


def test_accelerator_is_frozen_and_hashable() -> None:
    entry = get_accelerator("h100-sxm")
    with pytest.raises(AttributeError):
        entry.memory_bytes = 1  # type: ignore[misc]
    assert hash(entry) == hash(get_accelerator("h100-sxm"))
    assert isinstance(entry, Accelerator)


def test_importing_hardware_does_not_import_torch() -> None:
    code = (
        "import sys, flopwise.hardware, flopwise.hardware.roofline, flopwise.cli.hardware; "
        "flopwise.hardware.get_accelerator('h100-sxm'); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
