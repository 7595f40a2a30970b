"""Measured latency on CPU: per-module times add up to the whole forward; nothing is left behind.

Wall times on a shared 2-core machine are noisy, so the checks compare figures taken in the same
run (the leaf modules' times and the whole forward around them) and take the median over runs.
The negative control shows the 15% check is able to fail.
"""

from __future__ import annotations

import pytest
import torch

import flopwise
from flopwise.errors import UsageError
from flopwise.hardware import get_accelerator
from flopwise.timing import annotate_timing, measure_latency

module_globals = torch.nn.modules.module


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.Conv2d(16, 32, 3, padding=1, stride=2), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(32, 10),
    ).eval()


class GlueHeavy(torch.nn.Module):
    """Most of its work is a matmul written in forward, outside any leaf module."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Linear(256, 8)
        self.register_buffer("mix", torch.randn(256, 256))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(20):
            x = torch.tanh(x @ self.mix)
        return self.head(x)


def test_leaf_modules_add_up_to_the_whole_forward() -> None:
    timing = measure_latency(small_cnn(), torch.randn(4, 3, 64, 64), warmup=3, repeats=15)
    # Leaves run inside the root's forward and never overlap, so their sum cannot exceed it;
    # what they miss is glue code in forward (none here but Sequential's loop) and hook cost.
    assert 0.85 <= timing.leaf_fraction <= 1.0
    assert timing.leaf_time_s <= timing.hooked_forward_s
    leaves = [m for m in timing.modules if m.leaf]
    assert [m.name for m in leaves] == [str(i) for i in range(10)]
    assert all(m.calls == 1 and m.self_time_s == m.time_s for m in leaves)
    root = timing.module("")
    assert root.time_s == pytest.approx(timing.hooked_forward_s, rel=0.05)


def test_negative_control_glue_outside_leaves_is_caught() -> None:
    timing = measure_latency(GlueHeavy(), torch.randn(64, 256), warmup=2, repeats=7)
    assert timing.leaf_fraction < 0.5                    # the 15% check would fail here
    assert timing.module("").self_time_s > timing.module("head").time_s


def test_training_step_times_forward_and_backward_without_touching_grads() -> None:
    model = small_cnn().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    timing = measure_latency(model, torch.randn(2, 3, 32, 32), backward=True, warmup=1,
                             repeats=3)
    assert timing.backward and timing.backward_s is not None and timing.backward_s > 0
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)   # batch-norm stats restored
    assert model.training


def test_hooks_are_removed_and_grad_mode_kept() -> None:
    counts = (len(module_globals._global_forward_hooks),
              len(module_globals._global_forward_pre_hooks))
    progress: list[tuple[int, int]] = []
    measure_latency(small_cnn(), torch.randn(1, 3, 16, 16), warmup=2, repeats=2,
                    progress=lambda done, total: progress.append((done, total)))
    assert (len(module_globals._global_forward_hooks),
            len(module_globals._global_forward_pre_hooks)) == counts
    assert torch.is_grad_enabled()
    assert progress == [(i, 6) for i in range(1, 7)]      # 2 warm-up + 2 clean + 2 hooked


def test_model_exception_propagates_and_hooks_go() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        raise ValueError("user error")

    with pytest.raises(ValueError, match="user error"):
        measure_latency(broken, torch.randn(2), warmup=0, repeats=1)
    assert not module_globals._global_forward_pre_hooks


def test_meta_tensors_are_refused() -> None:
    with pytest.raises(UsageError, match="timing runs the model for real.*--device cpu"):
        measure_latency(torch.nn.Linear(2, 2, device="meta"), torch.empty(1, 2, device="meta"))
    with pytest.raises(UsageError, match="repeats >= 1"):
        measure_latency(torch.nn.Linear(2, 2), torch.randn(1, 2), repeats=0)


def test_achieved_flops_and_share_of_peak() -> None:
    model, x = torch.nn.Linear(256, 256), torch.randn(32, 256)
    cpu = get_accelerator("cpu-avx2-8c")                       # 768 GFLOP/s fp32
    timing = annotate_timing(measure_latency(model, x, warmup=1, repeats=3),
                             flopwise.profile(model, x, convention="macs"), cpu)
    flops = 2 * 32 * 256 * 256                                  # standard, bias folded in
    assert timing.flops == flops and timing.module("").flops == flops
    assert timing.flops_per_s == flops / timing.time_s
    assert timing.peak_percent == pytest.approx(100 * flops / timing.time_s / 768e9)
    assert timing.to_dict()["convention"] == "standard"
