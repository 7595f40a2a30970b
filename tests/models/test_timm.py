"""timm models in their two forms: as ``timm.create_model`` builds them, and fused for inference
by timm's own ``reparameterize_model`` (``--reparameterize``). Expected counts are derived from
the layers' dimensions."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import flopwise
from flopwise.cli import app
from flopwise.models.timm import reparameterizable, reparameterized

timm = pytest.importorskip("timm")
from timm.models.byobnet import RepVggBlock  # noqa: E402

runner = CliRunner()
C, H, W = 8, 6, 6           # a RepVGG block C→C, stride 1, on a C×H×W input


def _block(device: str) -> torch.nn.Module:
    """A model holding one block (timm's reparameterize_model visits a model's submodules)."""
    with torch.device(device):
        return torch.nn.Sequential(RepVggBlock(C, C)).eval()


def _params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_a_repvgg_block_before_and_after_fusion() -> None:
    block = _block("meta")
    x = torch.empty(1, C, H, W, device="meta")
    # training form: 3×3 conv (9·C² weights) + BN (2C), 1×1 conv (C²) + BN (2C), identity BN (2C)
    assert _params(block) == 9 * C * C + 2 * C + C * C + 2 * C + 2 * C         # 688
    assert flopwise.profile(block, x).total.macs == (9 * C * C + C * C) * H * W    # 23,040
    fused = reparameterized(block)
    # inference form: one 3×3 conv with a bias
    assert _params(fused) == 9 * C * C + C                                     # 584
    assert flopwise.profile(fused, x).total.macs == 9 * C * C * H * W          # 20,736
    assert all(p.device.type == "meta" for p in fused.parameters())


def test_the_users_model_is_left_as_it_was() -> None:
    torch.manual_seed(0)
    block = _block("cpu")
    state = {name: tensor.clone() for name, tensor in block.state_dict().items()}
    modules = [name for name, _ in block.named_modules()]
    x = torch.randn(2, C, H, W)
    expected = block(x)
    rng = torch.get_rng_state()
    fused = reparameterized(block)          # its new conv's initialisation draws from the RNG
    assert torch.equal(torch.get_rng_state(), rng)
    assert [name for name, _ in block.named_modules()] == modules
    assert all(torch.equal(state[k], v) for k, v in block.state_dict().items())
    assert not block.training
    # the fused form computes the same function (timm's fusion, not a relabelling)
    torch.testing.assert_close(fused(x), expected, rtol=1e-4, atol=1e-4)


def test_which_models_have_a_fused_form() -> None:
    assert reparameterizable(_block("meta"))
    with torch.device("meta"):
        assert not reparameterizable(timm.create_model("resnet18"))


# RepVGG-A0 (timm's repvgg_a0): widths 64,128,256,512 × 0.75,0.75,0.75,2.5 = 48,96,192,1280,
# depths 2,4,14,1, a 3→48 stem block; the first block of the stem and of every stage has stride
# 2 (224 → 112, 56, 28, 14, 7) and no identity branch (stride or width changes); head 1280→1000.
def _repvgg_a0_blocks() -> list[tuple[int, int, int, bool]]:
    """(in, out, output side, identity branch) of every RepVGG block."""
    blocks = [(3, 48, 112, False)]
    previous, side = 48, 112
    for width, depth in ((48, 2), (96, 4), (192, 14), (1280, 1)):
        side //= 2
        blocks.append((previous, width, side, False))
        blocks += [(width, width, side, True)] * (depth - 1)
        previous = width
    return blocks


def _profile_json(*args: str) -> tuple[dict, str]:
    result = runner.invoke(app, ["profile", "timm:repvgg_a0", "-f", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), result.stderr


def test_repvgg_a0_default_form_from_its_dimensions() -> None:
    report, stderr = _profile_json()
    blocks = _repvgg_a0_blocks()
    head_params, head_macs = 1280 * 1000 + 1000, 1280 * 1000
    params = sum(10 * a * b + 4 * b + 2 * b * identity for a, b, _, identity in blocks)
    macs = sum(10 * a * b * side * side for a, b, side, _ in blocks)
    assert report["total"]["params"] == params + head_params                    # 9,108,968
    assert report["total"]["macs"] == macs + head_macs
    assert stderr.strip().splitlines() == [
        "note: timm:repvgg_a0 counted as timm builds it, in its training-time form (branches "
        "and batch norms unfused); --reparameterize counts the fused inference form"]


def test_repvgg_a0_reparameterized_from_its_dimensions() -> None:
    report, stderr = _profile_json("--reparameterize")
    blocks = _repvgg_a0_blocks()
    params = sum(9 * a * b + b for a, b, _, _ in blocks)
    macs = sum(9 * a * b * side * side for a, b, side, _ in blocks)
    assert report["total"]["params"] == params + 1280 * 1000 + 1000               # 8,309,384
    assert report["total"]["macs"] == macs + 1280 * 1000
    assert report["unsupported"] == {}
    assert stderr.strip().splitlines() == [
        "note: timm:repvgg_a0 counted in its fused inference form (timm's reparameterize_model)"]


def test_the_flag_on_a_model_without_a_fused_form() -> None:
    result = runner.invoke(app, ["profile", "timm:resnet18", "-f", "json", "--reparameterize"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"]["params"] == 11_689_512   # as built (torchvision's)
    assert result.stderr.strip().splitlines() == [
        "note: timm:resnet18 has no re-parameterizable block; counted as built"]


def test_the_flag_is_for_timm_models() -> None:
    result = runner.invoke(app, ["profile", "torchvision:resnet18", "--reparameterize"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: --reparameterize applies to timm:NAME models (timm's reparameterize_model "
        "fuses them), not to 'torchvision:resnet18'"]
