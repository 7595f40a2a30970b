"""``simulate()``: the same scenarios on torch's fake process group, in this process, give rank
0's counts identical to the real gloo runs; and its guards."""

from __future__ import annotations

import pytest
import torch.distributed as dist

from flopwise.distributed import simulate
from flopwise.errors import UsageError
from tests.distributed.jobs import gloo_results
from tests.distributed.scenarios import SCENARIOS


@pytest.mark.parametrize("n", [2, 4], ids=["2-ranks", "4-ranks"])
@pytest.mark.parametrize("name", ["fsdp", "tp", "ddp", "ep"])
def test_simulated_rank_counts_equal_the_gloo_run(name, n):
    # DDP's C++ reducer reads real storage: it runs on real CPU tensors, the rest on fake ones
    with simulate(world_size=n, fake=name != "ddp") as mesh:
        simulated = SCENARIOS[name](mesh)
    assert simulated == gloo_results(n)[0][name]
    assert not dist.is_initialized()


def test_simulate_refuses_a_mesh_that_is_not_the_world():
    with pytest.raises(UsageError, match="holds 6 ranks, not world_size=8"), \
            simulate(world_size=8, mesh={"dp": 3, "tp": 2}):
        pass


def test_simulate_refuses_when_a_group_is_initialised_and_tears_down_on_error():
    with simulate(world_size=2):
        with pytest.raises(UsageError, match="already initialised"), simulate(world_size=2):
            pass
        assert dist.get_world_size() == 2
    assert not dist.is_initialized()
    with pytest.raises(KeyError), simulate(world_size=2):
        raise KeyError("the user's own error")
    assert not dist.is_initialized()


def test_simulate_builds_a_named_mesh():
    with simulate(world_size=8, mesh={"dp": 4, "tp": 2}) as mesh:
        assert mesh.mesh_dim_names == ("dp", "tp")
        assert (mesh["dp"].size(), mesh["tp"].size(), dist.get_world_size()) == (4, 2, 8)


def test_the_meta_recipe_for_large_worlds_gives_the_same_counts():
    # docs/distributed.md: build and shard on meta, materialise this rank's shards, profile on
    # fake tensors; FSDP2 per block on 4 ranks, as in the gloo run
    import torch
    from torch.distributed.fsdp import fully_shard

    import flopwise
    from tests.distributed.scenarios import BLOCKS, TOKENS, Block, D, summary

    with simulate(world_size=4, fake=False) as mesh:
        with torch.device("meta"):
            model = torch.nn.Sequential(*(Block() for _ in range(BLOCKS)))
        for block in model:
            fully_shard(block, mesh=mesh)
        fully_shard(model, mesh=mesh)
        model.to_empty(device="cpu")
        report = flopwise.profile(model, torch.randn(TOKENS, D), backward=True, fake=True)
        assert summary(report) == gloo_results(4)[0]["fsdp"]
