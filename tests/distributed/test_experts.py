"""Expert parallel (``ep``) on a tiny Mixtral built from its config, in a simulated world.

Per MoE layer and direction each rank sends tokens × top-k × hidden × bytes × (ep − 1)/ep:
one dispatch and one combine all-to-all forward, the same two backward.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import flopwise  # noqa: E402
from flopwise.distributed import simulate  # noqa: E402
from flopwise.distributed.experts import expert_parallel  # noqa: E402
from flopwise.distributed.recipes import apply_recipes  # noqa: E402
from flopwise.errors import UsageError  # noqa: E402

H, FFN, EXPERTS, TOP_K, LAYERS, VOCAB = 64, 128, 8, 2, 2, 128
CONFIG = dict(hidden_size=H, intermediate_size=FFN, num_hidden_layers=LAYERS,
              num_attention_heads=4, num_key_value_heads=4, vocab_size=VOCAB,
              num_local_experts=EXPERTS, num_experts_per_tok=TOP_K)
EXPERT_PARAMS = EXPERTS * 3 * H * FFN            # gate+up (2·ffn·h) and down (h·ffn) per expert


def _mixtral() -> torch.nn.Module:
    return transformers.MixtralForCausalLM(transformers.MixtralConfig(**CONFIG))


@pytest.mark.parametrize("ep", [2, 4, 8], ids=lambda ep: f"ep{ep}")
def test_all_to_all_bytes_equal_the_hand_formula(ep: int) -> None:
    batch, seq = 2, 16
    with simulate(world_size=ep, mesh={"ep": ep}) as mesh:
        model = _mixtral()
        params = sum(p.numel() for p in model.parameters())
        assert expert_parallel(model, mesh) == LAYERS
        report = flopwise.profile(model, torch.zeros(batch, seq, dtype=torch.long),
                                  backward=True, convention="macs")
    payload = batch * seq * TOP_K * H * 4              # T·k rows of h fp32 values
    for phase in ("forward", "backward"):
        rows = report.comm.select(kind="all_to_all", phase=phase)
        assert {row.module for row in rows} == {f"model.layers.{i}.mlp.experts"
                                                for i in range(LAYERS)}
        assert sum(row.calls for row in rows) == 2 * LAYERS          # dispatch + combine
        assert sum(row.payload_bytes for row in rows) == 2 * LAYERS * payload
        assert sum(row.wire_bytes for row in rows) == 2 * LAYERS * payload * (ep - 1) // ep
    # this rank holds E/ep experts of every layer; parameters stay the logical count
    assert report.comm.local_params == params - LAYERS * EXPERT_PARAMS * (ep - 1) // ep
    assert report.total.params == params


def test_expert_flops_per_rank() -> None:
    """Balanced routing: this rank's T·k rows through gate/up and down, 3·h·ffn MACs each, per
    layer, whatever ep (each local expert takes T·k/(E/ep) rows)."""
    batch, seq, ep = 1, 16, 4
    with simulate(world_size=ep, mesh={"ep": ep}) as mesh:
        model = _mixtral()
        expert_parallel(model, mesh)
        report = flopwise.profile(model, torch.zeros(batch, seq, dtype=torch.long),
                                  convention="macs")
    experts = [report.module(f"model.layers.{i}.mlp.experts").macs for i in range(LAYERS)]
    assert experts == [batch * seq * TOP_K * 3 * H * FFN] * LAYERS


def test_ep_with_fsdp() -> None:
    """dp=2 × ep=2: FSDP2 gathers each block's dense parameters and its local experts over dp."""
    with simulate(world_size=4, mesh={"dp": 2, "ep": 2}) as mesh:
        model = _mixtral()
        apply_recipes(model, mesh, ["ep", "fsdp"])
        report = flopwise.profile(model, torch.zeros(1, 16, dtype=torch.long), backward=True)
    # per block: attention 4·h², two norms 2·h, router E·h, E/ep experts
    block = 4 * H * H + 2 * H + EXPERTS * H + EXPERT_PARAMS // 2
    gathers = report.comm.select(kind="all_gather", phase="forward")
    assert {row.ranks for row in gathers} == {(0, 2)}               # dp is the outer dimension
    per_block = sorted({row.payload_bytes for row in gathers})
    assert 4 * block in per_block
    assert len(report.comm.select(kind="all_to_all")) > 0


def test_unsupported_is_one_line() -> None:
    with simulate(world_size=3, mesh={"ep": 3}) as mesh:
        with pytest.raises(UsageError, match="ep=3 does not divide the 8 experts"):
            expert_parallel(_mixtral(), mesh)
        with pytest.raises(UsageError, match="ep found no mixture-of-experts layers"):
            expert_parallel(torch.nn.Linear(4, 4), mesh)
