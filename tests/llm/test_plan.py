"""The planner as a whole: public time/MFU figures, roofline inference, the JSON contract."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

import flopwise
from flopwise.errors import UsageError
from flopwise.llm import load_spec, megatron_training_s, mfu, plan, sweep

A100_PEAK = 312e12         # A100 dense BF16 (accelerators.md)
A100_BANDWIDTH = 2039e9    # A100 SXM 80GB HBM2e


def test_megatron_formula_gpt3_34_days() -> None:
    # Narayanan et al. 2021: 175B parameters, 300B tokens, 1024 A100s at 140 TFLOP/s ≈ 34 days.
    days = megatron_training_s(300e9, 175e9, 1024, 140e12) / 86400
    assert days == pytest.approx(8 * 300e9 * 175e9 / (1024 * 140e12) / 86400)
    assert round(days) == 34


def test_planner_gpt3_on_1024_a100s() -> None:
    result = plan("gpt-3-175b", tokens=300 * 10**9, gpus=1024, hardware="a100-80gb",
                  achieved_tflops=140, recompute="full")
    run = result.time.training
    l, h, s, v = 96, 12288, 2048, 50257
    hardware_per_token = 96 * l * h * h + 16 * l * s * h + 6 * v * h  # Megatron's 96 formula
    assert run.hardware_flops == hardware_per_token * 300 * 10**9
    assert run.seconds == pytest.approx(run.hardware_flops / (1024 * 140e12))
    assert 33 < run.seconds / 86400 < 36  # the paper: "about 34 days"
    assert 33 < run.megatron_estimate_s / 86400 < 35
    assert run.mfu == pytest.approx(run.model_flops / (run.seconds * 1024 * A100_PEAK))


def test_nanogpt_mfu() -> None:
    # nanoGPT: GPT-2 small (bias=False), 100 × 1024 tokens per step in 0.755 s on one A100:
    # 37.1% MFU at 312 TFLOP/s with 6N + 12·l·a·d·s FLOPs per token.
    spec = replace(load_spec("gpt2"), qkv_bias=False, out_bias=False, mlp_bias=False, norm_bias=False)
    result = plan(spec, seq=1024, hardware="a100-80gb")
    palm = next(row for row in result.flops.approximations if row.name == "PaLM")
    n = 124_337_664 - 1024 * 768  # nanoGPT's get_num_params(): all but the position table
    assert palm.per_token == 6 * n + 12 * 12 * 12 * 64 * 1024
    utilisation = mfu(palm.per_token, 100 * 1024 / 0.755, A100_PEAK)
    assert f"{100 * utilisation:.1f}%" == "37.1%"


def test_training_time_from_mfu() -> None:
    result = plan("llama-2-7b", seq=4096, tokens=2 * 10**12, gpus=64, hardware="a100-80gb", mfu=0.5)
    run = result.time.training
    fwd_per_token = 15_361_638_400  # 2·(l·202,375,168 + h·V) + 4·l·s·a·d at s = 4096
    assert result.flops.forward_per_token == fwd_per_token
    assert run.model_flops == 3 * fwd_per_token * 2 * 10**12
    assert run.seconds == pytest.approx(run.model_flops / (64 * 0.5 * A100_PEAK))
    assert run.gpu_hours == pytest.approx(run.seconds * 64 / 3600)
    assert run.pf_days == pytest.approx(run.model_flops / 8.64e19)


def test_decode_is_bandwidth_bound() -> None:
    result = plan("llama-2-7b", seq=4096, hardware="a100-80gb", mode="infer")
    decode = result.time.decode
    assert decode is not None and decode.bound == "memory"
    weights = 2 * 6_738_415_616
    kv = 2 * 32 * 32 * 128 * 2 * 4096
    assert decode.bytes == weights + kv
    assert result.time.decode_tokens_per_s == pytest.approx(A100_BANDWIDTH / (weights + kv))


def test_prefill_is_compute_bound() -> None:
    result = plan("llama-2-7b", seq=4096, batch=2, hardware="a100-80gb")
    prefill = result.time.prefill
    assert prefill.bound == "compute"
    assert prefill.flops == 2 * 62_921_270_886_400  # two sequences of the forward above
    assert prefill.seconds == pytest.approx(prefill.flops / A100_PEAK)


def test_moe_decode_reads_only_routed_experts() -> None:
    h, l, f = 4096, 32, 14336
    expert = 3 * h * f
    one = plan("mixtral-8x7b", seq=1024, hardware="h100-sxm").time.decode
    many = plan("mixtral-8x7b", seq=1024, batch=64, hardware="h100-sxm").time.decode
    assert one is not None and many is not None
    total = 46_702_792_704
    kv_one = 2 * 32 * 8 * 128 * 2 * 1024
    assert one.bytes == 2 * (total - l * 6 * expert) + kv_one  # 2 of 8 experts read
    assert many.bytes == 2 * total + 64 * kv_one


def test_memory_fits() -> None:
    result = plan("llama-2-7b", seq=4096, hardware="a100-80gb")
    assert result.memory.capacity_bytes == 80 * 10**9
    assert not result.memory.fits  # 16 bytes/parameter alone is 108 GB
    assert result.memory.train_state.total == 16 * 6_738_415_616
    inference = plan("llama-2-7b", seq=4096, hardware="a100-80gb", mode="infer")
    assert inference.memory.fits
    assert inference.memory.per_gpu == 2 * 6_738_415_616 + 2 * 1024**3


def test_layout_resolution() -> None:
    result = plan("llama-2-70b", gpus=64, tp=8, pp=2, hardware="h100-sxm")
    assert (result.settings.gpus, result.settings.dp) == (64, 4)
    assert plan("gpt2", tp=2, dp=3, hardware="h100-sxm").settings.gpus == 6


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"gpus": 10, "tp": 4}, "not a multiple of tp·pp"),
        ({"gpus": 8, "dp": 3}, "--gpus 8 != tp·pp·dp"),
        ({"mfu": 0.4, "achieved_tflops": 100.0}, "not both"),
        ({"mfu": 1.5}, "--mfu is a fraction"),
        ({"seq": 4096}, "exceeds the 1024 learned positions"),
        ({"batch": 0}, "--batch must be at least 1"),
        ({"mode": "serve"}, "--mode must be one of train, infer"),
        ({"dtype": "fp4"}, "--dtype must be one of"),
        ({"hardware": "h100-smx"}, "h100-sxm"),
        ({"hardware": "v100-sxm2"}, "no bf16 peak"),
    ],
    ids=["gpus-tp", "gpus-dp", "mfu-and-achieved", "mfu-range", "seq-positions", "batch",
         "mode", "dtype", "hardware-typo", "missing-peak"],
)
def test_usage_errors(options: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan("gpt2", **options)


def test_defaults_and_notes() -> None:
    result = plan("gpt2")
    assert result.settings.seq == 1024  # capped at GPT-2's positions
    assert result.settings.tokens == 20 * 124_439_808
    assert result.settings.hardware == "h100-sxm" and result.settings.mfu == 0.4
    assert any("Chinchilla" in note for note in result.notes)
    assert any("square counted full" in note for note in result.notes)
    assert plan("llama-2-7b", hardware="h100-sxm").settings.seq == 2048


def test_rotary_model_beyond_its_positions_is_a_note() -> None:
    result = plan("llama-2-7b", seq=8192, hardware="h100-sxm")
    assert any("beyond the 4096 positions" in note for note in result.notes)


def test_sweep_over_seq() -> None:
    h, l, v = 768, 12, 50257
    rows = sweep("gpt2", "seq", [256, 512, 1024], hardware="h100-sxm")
    assert [r.flops.forward_per_token for r in rows] == [
        2 * l * 12 * h * h + 4 * l * s * h + 2 * h * v for s in (256, 512, 1024)
    ]


def test_sweep_over_batch_scales_step_flops() -> None:
    rows = sweep("llama-3-8b", "batch", [1, 4], seq=1024, hardware="h100-sxm")
    assert rows[1].flops.training_per_step == 4 * rows[0].flops.training_per_step


def test_sweep_key_checked() -> None:
    with pytest.raises(UsageError, match="--sweep must be one of seq, batch"):
        sweep("gpt2", "layers", [1])


def test_json_contract_schema_1() -> None:
    document = json.loads(json.dumps(plan("llama-3-8b", seq=8192, tokens=15 * 10**12,
                                          gpus=16, tp=8, hardware="h100-sxm").to_dict()))
    assert document["schema"] == 1
    for key in ("total", "active", "embedding", "non_embedding"):
        assert isinstance(document["params"][key], int)
    assert isinstance(document["flops"]["forward_per_token"], int)
    assert isinstance(document["flops"]["training_per_token"], int)
    assert isinstance(document["flops"]["training_total"], (int, float))
    for key in ("weights_bytes", "kv_cache_bytes", "activation_bytes", "optimizer_bytes", "per_gpu_bytes"):
        assert isinstance(document["memory"][key], int)
    assert isinstance(document["time"]["training_s"], float)
    assert document["params"]["total"] == 8_030_261_248
    assert document["flops"]["training_total"] == document["flops"]["training_per_token"] * 15 * 10**12


def test_top_level_lazy_name() -> None:
    assert flopwise.plan_llm("gpt2", hardware="h100-sxm").params.total == 124_439_808


def test_planner_never_imports_torch() -> None:
    code = (
        "import sys, flopwise, flopwise.llm as llm\n"
        "llm.plan('llama-3.1-405b', seq=8192, gpus=16384, tp=8, pp=16)\n"
        "flopwise.plan_llm('mixtral-8x7b')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
