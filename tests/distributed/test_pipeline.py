"""Pipeline stages by layer (``pp``): each stage's FLOPs and parameters from the layer split,
the point-to-point bytes from the boundary activation, and the planner's pipeline bytes.

Tiny Llama decoders built from their config inside ``flopwise.distributed.simulate``; every
expected value is derived from the dimensions below.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from flopwise.distributed import simulate  # noqa: E402
from flopwise.distributed.pipeline import profile_pipeline, shard_stage, split_layers  # noqa: E402
from flopwise.distributed.pipeline_section import PipelineSection  # noqa: E402
from flopwise.errors import UsageError  # noqa: E402
from flopwise.hardware.interconnect import cluster_for  # noqa: E402
from flopwise.llm.config import spec_from_hf_config  # noqa: E402
from flopwise.llm.parallel import Layout, comm_volumes  # noqa: E402

H, FFN, HEADS, VOCAB, LAYERS = 64, 128, 4, 128, 6
CONFIG = {"model_type": "llama", "hidden_size": H, "intermediate_size": FFN,
          "num_hidden_layers": LAYERS, "num_attention_heads": HEADS, "num_key_value_heads": HEADS,
          "vocab_size": VOCAB, "max_position_embeddings": 256}
# per block: q, k, v, o (h·h each), gate, up, down (h·ffn each), two RMSNorms (h each)
BLOCK_PARAMS = 4 * H * H + 3 * H * FFN + 2 * H
EMBED_PARAMS = VOCAB * H
HEAD_PARAMS = VOCAB * H + H                    # lm_head and the final norm


def _block_macs(tokens: int, seq: int) -> tuple[int, int]:
    """(forward, backward) MACs of one block: projections tokens·(4h² + 3h·ffn), twice in the
    backward; attention QKᵀ and AV, b·s²·h each (causal counted as the full square), and 5 such
    products in the backward (scores recomputed, dV, dP, dQ, dK)."""
    linear = tokens * (4 * H * H + 3 * H * FFN)
    attention = tokens * seq * H               # one product: b·s·s·(h / heads)·heads
    return linear + 2 * attention, 2 * linear + 5 * attention


def _model(dtype: torch.dtype = torch.float32) -> torch.nn.Module:
    config = transformers.AutoConfig.for_model(**CONFIG)
    return transformers.AutoModelForCausalLM.from_config(config, dtype=dtype)


@pytest.mark.parametrize(("layers", "stages", "expected"), [
    (6, 3, [(0, 2), (2, 2), (4, 2)]),
    (7, 3, [(0, 3), (3, 2), (5, 2)]),          # 7 = 3·2 + 1: the first stage takes one more
    (4, 4, [(0, 1), (1, 1), (2, 1), (3, 1)]),
], ids=["even", "remainder", "one-each"])
def test_split_layers(layers: int, stages: int, expected: list[tuple[int, int]]) -> None:
    assert split_layers(layers, stages) == expected


def test_split_needs_a_layer_per_stage() -> None:
    with pytest.raises(UsageError, match="pp=7 stages cannot split 6 decoder layers"):
        split_layers(6, 7)


def test_stage_flops_params_and_sends() -> None:
    batch, seq, stages, m = 4, 16, 3, 2
    micro = batch // m                                  # 2 sequences per micro-batch
    tokens = micro * seq
    with simulate(world_size=stages, mesh={"pp": stages}):
        report = profile_pipeline(_model(), torch.zeros(batch, seq, dtype=torch.long), stages, m,
                                  convention="macs")
    section = report.section(PipelineSection)
    assert (section.micro_batches, section.micro_batch, section.bubble_fraction) == (2, 2, 2 / 2)
    boundary = micro * seq * H * 4                      # b·s·h fp32 values
    assert section.boundary_bytes == boundary
    forward, backward = _block_macs(tokens, seq)
    head = tokens * H * VOCAB
    per_stage = LAYERS // stages                        # 2 blocks each
    expected = [
        # stage 0: embedding (no MACs) + 2 blocks; sends its activation forward
        (EMBED_PARAMS + 2 * BLOCK_PARAMS, per_stage * forward, per_stage * backward, boundary),
        # inner stage: sends forward and the gradient of its input back
        (2 * BLOCK_PARAMS, per_stage * forward, per_stage * backward, 2 * boundary),
        # last stage: + final norm and head (h·V MACs per token, twice in the backward)
        (2 * BLOCK_PARAMS + HEAD_PARAMS, per_stage * forward + head,
         per_stage * backward + 2 * head, boundary),
    ]
    got = [(s.params, s.forward_flops, s.backward_flops, s.send_bytes) for s in section.stages]
    assert got == expected
    assert [(s.first_layer, s.layers) for s in section.stages] == [(0, 2), (2, 2), (4, 2)]
    # the report itself is stage 0's micro-batch (what rank 0 runs)
    assert report.total.flops == expected[0][1] + expected[0][2]


def test_sends_equal_the_planner() -> None:
    """An inner stage sends 2·m boundary tensors per step; the planner's pp volume for the same
    layout (bf16, tp 1) is 2·m sends of b·s·h·2 bytes."""
    batch, seq, stages, m = 4, 32, 3, 4
    with simulate(world_size=stages, mesh={"pp": stages}):
        report = profile_pipeline(_model(torch.bfloat16), torch.zeros(batch, seq, dtype=torch.long),
                                  stages, m)
    section = report.section(PipelineSection)
    inner = section.stages[1].send_bytes * m
    assert inner == 2 * m * (1 * seq * H * 2)
    layout = Layout(tp=1, pp=stages, dp=1, zero=0, recompute="none", micro_batch=batch // m,
                    micro_batches=m)
    planned = [v for v in comm_volumes(spec_from_hf_config(CONFIG), layout, cluster_for("h100-sxm"),
                                       seq=seq) if v.dimension == "pp"]
    assert sum(v.payload_bytes * v.count for v in planned) == inner


def test_pp_with_fsdp_shards_each_stage() -> None:
    """pp=2, dp=2: stage 0 (embedding + 3 blocks) all-gathers its blocks and itself over dp."""
    batch, seq = 2, 16
    with simulate(world_size=4, mesh={"pp": 2, "dp": 2}) as mesh:
        report = profile_pipeline(_model(), torch.zeros(batch, seq, dtype=torch.long), 2,
                                  shard=shard_stage(mesh["dp"]))
    dp_gathers = [row for row in report.comm.select(kind="all_gather", phase="forward")]
    assert {row.ranks for row in dp_gathers} == {(0, 1)}   # dp is the inner dimension of (pp, dp)
    # forward: every block of the stage (fp32) and the stage's root (the embedding)
    assert sum(row.payload_bytes for row in dp_gathers) == 4 * (3 * BLOCK_PARAMS + EMBED_PARAMS)
    assert report.comm.local_params == (3 * BLOCK_PARAMS + EMBED_PARAMS) // 2


def test_micro_batches_must_divide_the_batch() -> None:
    with (simulate(world_size=2, mesh={"pp": 2}),
          pytest.raises(UsageError, match="--micro-batches 3 does not divide the batch of 4")):
        profile_pipeline(_model(), torch.zeros(4, 8, dtype=torch.long), 2, 3)


def test_not_a_decoder_is_one_line() -> None:
    with (simulate(world_size=2, mesh={"pp": 2}),
          pytest.raises(UsageError, match="pp needs a Hugging Face decoder")):
        profile_pipeline(torch.nn.Linear(4, 4), torch.zeros(2, 4, dtype=torch.long), 2)
