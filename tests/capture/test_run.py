"""Observe, never modify: after a profile — also when the model raised — the model, its
state_dict, hooks, flags, requires_grad, grad mode and torch's globals are exactly as before."""

from __future__ import annotations

import pytest
import torch
import torchvision

import flopwise

module_globals = torch.nn.modules.module


def _world(model: torch.nn.Module) -> dict:
    """Everything a profile must leave as it found it."""
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "keys": list(model.state_dict()),
        "hooks": [(len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks),
                   len(m._backward_pre_hooks), len(m._forward_hooks_always_called))
                  for m in model.modules()],
        "training": [m.training for m in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [p.grad for p in model.parameters()],
        "attributes": [sorted(vars(m)) for m in model.modules()],
        "global_hooks": (len(module_globals._global_forward_hooks),
                         len(module_globals._global_forward_pre_hooks),
                         len(module_globals._global_backward_hooks),
                         len(module_globals._global_backward_pre_hooks),
                         len(module_globals._global_forward_hooks_always_called)),
        "grad_enabled": torch.is_grad_enabled(),
        "inference_mode": torch.is_inference_mode_enabled(),
        "default_dtype": torch.get_default_dtype(),
        "dispatch_modes": torch._C._len_torch_dispatch_stack(),
        "function_modes": torch._C._len_torch_function_stack(),
        "rng": torch.get_rng_state(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "threads": torch.get_num_threads(),
        "anomaly": torch.is_anomaly_enabled(),
    }


def _assert_same(before: dict, after: dict) -> None:
    for key in before:
        if key == "state":
            assert before[key].keys() == after[key].keys()
            for name, value in before[key].items():
                assert torch.equal(value, after[key][name]), name
        elif key == "rng":
            assert torch.equal(before[key], after[key])
        else:
            assert before[key] == after[key], key


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_resnet_is_untouched(training, backward):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).train(training)
    model.register_forward_hook(lambda *a: None)          # a user's own hook stays
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        reference = model(x)
    model.train(training)
    before = _world(model)
    report = flopwise.profile(model, x, backward=backward)
    assert report.total.macs > 0
    _assert_same(before, _world(model))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), reference)           # outputs unchanged


def test_resnet50_real_outputs_and_parameters_unchanged():
    torch.manual_seed(0)
    model = torchvision.models.resnet50(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        reference = model(x)
    before = _world(model)
    flopwise.profile(model, x)
    _assert_same(before, _world(model))
    with torch.no_grad():
        assert torch.equal(model(x), reference)


class Boom(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4))
        self.error = ValueError("the user's own error")

    def forward(self, x):
        x = self.inner(x)
        raise self.error


def test_the_users_exception_propagates_unchanged_and_nothing_is_left_behind():
    model = Boom().train()
    x = torch.randn(3, 4)
    before = _world(model)
    with pytest.raises(ValueError) as caught:
        flopwise.profile(model, x, backward=True)
    assert caught.value is model.error
    _assert_same(before, _world(model))


def test_grad_mode_is_restored_inside_no_grad():
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        flopwise.profile(model, torch.randn(1, 3), backward=True)
        assert not torch.is_grad_enabled()
    assert torch.is_grad_enabled()


def test_dropout_does_not_consume_the_users_random_stream():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.5)).train()
    x = torch.randn(2, 4)
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    flopwise.profile(model, x)
    assert torch.equal(torch.rand(3), expected)


def test_fake_mode_leaves_a_real_training_model_untouched():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None, num_classes=10).train()
    x = torch.randn(2, 3, 32, 32)
    before = _world(model)
    report = flopwise.profile(model, x, fake=True, backward=True)
    assert report.run.mode == "fake" and report.unsupported == {}
    _assert_same(before, _world(model))
