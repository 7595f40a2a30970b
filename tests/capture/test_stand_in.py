"""The shadows' stand-in mode steps off the torch-function stack while a plain torch.nn leaf
runs: only where no replayed path can be reached, and always back on, so counts stay those of
a real run."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

import flopwise
from flopwise.capture.stand_in import _CALLERS, _SDPA, _SETITEM, PLAIN_LEAVES

#: one instance and one input per plain leaf type
LEAVES = {
    nn.Conv1d: (lambda: nn.Conv1d(2, 2, 3), (1, 2, 8)),
    nn.Conv2d: (lambda: nn.Conv2d(2, 2, 3), (1, 2, 8, 8)),
    nn.Conv3d: (lambda: nn.Conv3d(2, 2, 3), (1, 2, 8, 8, 8)),
    nn.ConvTranspose1d: (lambda: nn.ConvTranspose1d(2, 2, 3), (1, 2, 8)),
    nn.ConvTranspose2d: (lambda: nn.ConvTranspose2d(2, 2, 3), (1, 2, 8, 8)),
    nn.ConvTranspose3d: (lambda: nn.ConvTranspose3d(2, 2, 3), (1, 2, 4, 4, 4)),
    nn.Linear: (lambda: nn.Linear(4, 3), (2, 4)),
    nn.Identity: (nn.Identity, (2, 4)),
    nn.Embedding: (lambda: nn.Embedding(10, 4), None),
    nn.BatchNorm1d: (lambda: nn.BatchNorm1d(2), (3, 2)),
    nn.BatchNorm2d: (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    nn.BatchNorm3d: (lambda: nn.BatchNorm3d(2), (3, 2, 4, 4, 4)),
    nn.LayerNorm: (lambda: nn.LayerNorm(4), (2, 4)),
    nn.GroupNorm: (lambda: nn.GroupNorm(2, 4), (2, 4, 3)),
    nn.RMSNorm: (lambda: nn.RMSNorm(4), (2, 4)),
    nn.Dropout: (nn.Dropout, (2, 4)),
    nn.Dropout1d: (nn.Dropout1d, (2, 4, 3)),
    nn.Dropout2d: (nn.Dropout2d, (2, 4, 3, 3)),
    nn.Dropout3d: (nn.Dropout3d, (2, 4, 3, 3, 3)),
    nn.ReLU: (nn.ReLU, (2, 4)),
    nn.ReLU6: (nn.ReLU6, (2, 4)),
    nn.LeakyReLU: (nn.LeakyReLU, (2, 4)),
    nn.PReLU: (nn.PReLU, (2, 4)),
    nn.ELU: (nn.ELU, (2, 4)),
    nn.SELU: (nn.SELU, (2, 4)),
    nn.CELU: (nn.CELU, (2, 4)),
    nn.GELU: (nn.GELU, (2, 4)),
    nn.SiLU: (nn.SiLU, (2, 4)),
    nn.Mish: (nn.Mish, (2, 4)),
    nn.Hardswish: (nn.Hardswish, (2, 4)),
    nn.Hardsigmoid: (nn.Hardsigmoid, (2, 4)),
    nn.Hardtanh: (nn.Hardtanh, (2, 4)),
    nn.Sigmoid: (nn.Sigmoid, (2, 4)),
    nn.Tanh: (nn.Tanh, (2, 4)),
    nn.Softplus: (nn.Softplus, (2, 4)),
    nn.Softmax: (lambda: nn.Softmax(dim=-1), (2, 4)),
    nn.LogSoftmax: (lambda: nn.LogSoftmax(dim=-1), (2, 4)),
    nn.MaxPool1d: (lambda: nn.MaxPool1d(2), (1, 2, 8)),
    nn.MaxPool2d: (lambda: nn.MaxPool2d(2), (1, 2, 8, 8)),
    nn.MaxPool3d: (lambda: nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    nn.AvgPool1d: (lambda: nn.AvgPool1d(2), (1, 2, 8)),
    nn.AvgPool2d: (lambda: nn.AvgPool2d(2), (1, 2, 8, 8)),
    nn.AvgPool3d: (lambda: nn.AvgPool3d(2), (1, 2, 4, 4, 4)),
    nn.AdaptiveAvgPool1d: (lambda: nn.AdaptiveAvgPool1d(2), (1, 2, 8)),
    nn.AdaptiveAvgPool2d: (lambda: nn.AdaptiveAvgPool2d(2), (1, 2, 8, 8)),
    nn.AdaptiveAvgPool3d: (lambda: nn.AdaptiveAvgPool3d(2), (1, 2, 4, 4, 4)),
    nn.AdaptiveMaxPool1d: (lambda: nn.AdaptiveMaxPool1d(2), (1, 2, 8)),
    nn.AdaptiveMaxPool2d: (lambda: nn.AdaptiveMaxPool2d(2), (1, 2, 8, 8)),
    nn.AdaptiveMaxPool3d: (lambda: nn.AdaptiveMaxPool3d(2), (1, 2, 4, 4, 4)),
    nn.Flatten: (nn.Flatten, (2, 3, 4)),
}

REPLAYED = (_SDPA, _SETITEM, torch.tensor, *_CALLERS)


class Calls(TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[object] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.seen.append(func)
        return func(*args, **(kwargs or {}))


def _case(kind: type) -> tuple[nn.Module, torch.Tensor]:
    make, shape = LEAVES[kind]
    module = make()
    x = torch.randint(0, 10, (2, 3)) if shape is None else torch.randn(*shape)
    return module, x


def test_every_plain_leaf_has_a_case():
    assert set(LEAVES) == PLAIN_LEAVES


@pytest.mark.parametrize("kind", sorted(LEAVES, key=lambda kind: kind.__name__),
                         ids=lambda kind: kind.__name__)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_a_plain_leaf_reaches_no_replayed_path_and_counts_as_for_real(kind, training):
    module, x = _case(kind)
    module.train(training)
    with Calls() as calls:
        module(x)
    assert not set(calls.seen) & set(REPLAYED)
    shadow = flopwise.profile(module, x)
    assert shadow.run.executed == "shadow"
    assert shadow.events == flopwise.profile(module, x, execute="always").events


def test_the_recorder_sees_a_replayed_path():
    attention = nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.randn(1, 3, 8)
    with Calls() as calls:
        attention(x, x, x, need_weights=False)
    assert set(calls.seen) & set(REPLAYED)


class WithTensor(nn.Linear):
    """A subclass of a plain leaf whose forward makes a tensor on its input's device."""

    def forward(self, x):
        return super().forward(x) * torch.tensor(2.0, device=x.device)


def _hooked_linear() -> nn.Module:
    linear = nn.Linear(4, 4)   # its pre-hooks run inside the global ones
    linear.register_forward_pre_hook(
        lambda module, args: (args[0] * torch.tensor(2.0, device=args[0].device),))
    return linear


@pytest.mark.parametrize("make", [lambda: WithTensor(4, 4), _hooked_linear],
                         ids=["subclass", "own-hook"])
def test_a_subclass_or_a_hooked_leaf_keeps_the_stand_in(make):
    # torch.tensor(device=...) records aten.lift_fresh on a real device: on the shadows only
    # through the stand-in, so it must stay on for these calls
    model = nn.Sequential(make(), nn.ReLU())
    x = torch.randn(2, 4)
    shadow = flopwise.profile(model, x)
    assert shadow.run.executed == "shadow"
    assert "aten.lift_fresh.default" in [event.op for event in shadow.events]
    assert shadow.events == flopwise.profile(model, x, execute="always").events


def test_the_stand_in_is_back_on_after_a_leaf_raised():
    model = nn.Sequential(nn.Linear(4, 4), nn.Conv2d(3, 3, 1))   # a 2-d input fails the conv
    depth = torch._C._len_torch_function_stack()
    with pytest.raises(flopwise.UsageError, match="execute='never'"):
        flopwise.profile(model, torch.randn(2, 4), execute="never")
    assert torch._C._len_torch_function_stack() == depth
    with Calls() as outer:   # under the user's own mode too: it stays the one they pushed
        with pytest.raises(RuntimeError):
            flopwise.profile(model, torch.randn(2, 4))
        assert torch._C._len_torch_function_stack() == depth + 1
        assert torch._C._get_function_stack_at(depth) is outer


class OwnModeAroundLeaf(nn.Module):
    """A forward that pushes a torch-function mode of its own around a plain leaf."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.seen: list[list[object]] = []

    def forward(self, x):
        with Calls() as calls:
            y = self.linear(x)
        self.seen.append(calls.seen)
        return y


def test_a_leaf_under_the_models_own_mode_keeps_the_stack_as_pushed():
    # the stand-in steps aside only when it is the innermost mode: here the model's own mode
    # is, and it must see the leaf's calls and stay on the stack
    model = OwnModeAroundLeaf()
    x = torch.randn(2, 4)
    depth = torch._C._len_torch_function_stack()
    shadow = flopwise.profile(model, x)
    assert shadow.run.executed == "shadow"
    assert torch.nn.functional.linear in model.seen[-1]
    assert torch._C._len_torch_function_stack() == depth
    assert shadow.events == flopwise.profile(model, x, execute="always").events
