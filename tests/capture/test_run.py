"""Observe, never modify: after a profile — also when the model raised — the model, its
state_dict, hooks, flags, requires_grad, grad mode and torch's globals are exactly as before;
and the default run on meta shadows counts exactly what a real run counts."""

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
        # the very objects in every module's tables, with their devices and requires_grad
        "entries": [(name, kind, key, id(value), value.device.type, value.requires_grad)
                    for name, m in model.named_modules()
                    for kind, table in (("param", m._parameters), ("buffer", m._buffers))
                    for key, value in table.items() if value is not None],
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


# -- counting on shadows -----------------------------------------------------------------------
class Frozen(torch.nn.Module):
    """Tied weights, a frozen layer, a buffer, a user's hooks on a submodule."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(10, 6)
        self.frozen = torch.nn.Linear(6, 6).requires_grad_(False)
        self.norm = torch.nn.BatchNorm1d(6)
        self.head = torch.nn.Linear(6, 10, bias=False)
        self.head.weight = self.embed.weight               # tied
        self.register_buffer("scale", torch.full((6,), 0.5))
        self.seen: list[str] = []
        self.frozen.register_forward_hook(lambda m, a, out: self.seen.append(out.device.type))

    def forward(self, ids):
        x = self.norm(self.frozen(self.embed(ids)) * self.scale)
        return self.head(x)


def test_shadows_leave_identity_requires_grad_hooks_and_behaviour_as_found():
    torch.manual_seed(0)
    model = Frozen().train()
    ids = torch.randint(0, 10, (4,))
    before = _world(model)
    weight = model.embed.weight
    report = flopwise.profile(model, ids, backward=True)
    assert report.run.executed == "shadow" and report.run.mode == "real"
    assert model.seen == ["meta"]                 # the user's hook ran, on the shadow
    _assert_same(before, _world(model))           # same objects, values, flags, hooks
    assert model.head.weight is model.embed.weight is weight
    model.seen.clear()
    model.eval()
    with torch.no_grad():
        out = model(ids)
    assert out.device.type == "cpu" and model.seen == ["cpu"]   # behaves as before


class Strided(torch.nn.Module):
    """A transposed (non-contiguous) frozen weight, a channels-last buffer, an integer buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 3).t(), requires_grad=False)   # 3x4
        self.register_buffer("image", torch.ones(1, 2, 3, 3).to(memory_format=torch.channels_last))
        self.register_buffer("steps", torch.tensor(0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = [(t.stride(), type(t), t.requires_grad, t.dtype, t.device.type)
                     for t in (self.weight, self.image, self.steps)]
        return x @ self.weight


def test_shadows_keep_strides_type_dtype_and_requires_grad():
    model = Strided()
    report = flopwise.profile(model, torch.ones(2, 3))
    assert report.run.executed == "shadow"
    assert model.seen == [((1, 3), torch.nn.Parameter, False, torch.float32, "meta"),
                          ((18, 1, 6, 2), torch.Tensor, False, torch.float32, "meta"),
                          ((), torch.Tensor, False, torch.int64, "meta")]
    assert report.total.macs == 2 * 3 * 4    # (2x3) @ (3x4)


def test_module_output_bytes_are_the_same_on_shadows_as_for_real():
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    shadow, real = flopwise.profile(model, x), flopwise.profile(model, x, execute="always")
    assert shadow.run.executed == "shadow" and real.run.executed == "real"
    outputs = {n.name: n.output_bytes for n in shadow.tree.nodes.values()}
    assert outputs == {n.name: n.output_bytes for n in real.tree.nodes.values()}
    assert outputs["classifier.3"] == 1000 * 4      # the logits: 1,000 float32 values


def test_shadows_count_what_a_real_run_counts_with_backward_and_optimizer():
    torch.manual_seed(0)
    model = Frozen().train()
    ids = torch.randint(0, 10, (4,))
    optimizer = torch.optim.AdamW(model.parameters())
    shadow = flopwise.profile(model, ids, backward=True, optimizer=optimizer, memory=True)
    real = flopwise.profile(model, ids, backward=True, optimizer=optimizer, memory=True,
                            execute="always")
    assert (shadow.run.executed, real.run.executed) == ("shadow", "real")
    assert shadow.events == real.events
    assert shadow.to_dict()["memory"] == real.to_dict()["memory"]
    # Linear(6, 6) on 4 tokens: 4·6·6 forward MACs; Linear(6, 10) tied: 4·6·10
    assert shadow.phases["forward"].macs == 4 * 6 * 6 + 4 * 6 * 10


class ValueDependent(torch.nn.Module):
    """Control flow on a value: the shadow cannot decide the branch."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x):
        y = self.linear(x)
        if y.sum() > 0:                           # bool() of a tensor: needs its value
            return self.linear(y)
        return y


def test_a_value_dependent_model_falls_back_to_a_real_run_and_says_so():
    torch.manual_seed(0)
    model = ValueDependent()
    x = torch.ones(2, 4)
    with torch.no_grad():
        took_branch = bool(model.linear(x).sum() > 0)
    before = _world(model)
    report = flopwise.profile(model, x)
    assert report.run.executed.startswith("real (fallback: RuntimeError: ")
    assert "meta" in report.run.executed
    # the real run counts the branch the values take: 2·4·4 MACs per Linear call
    assert report.total.macs == 2 * 4 * 4 * (2 if took_branch else 1)
    assert report.module("linear").calls == (2 if took_branch else 1)
    _assert_same(before, _world(model))
    assert flopwise.profile(model, x, execute="always").events == report.events


def test_never_refuses_to_run_a_value_dependent_model():
    model = ValueDependent()
    before = _world(model)
    with pytest.raises(flopwise.UsageError, match="execute='never'.*execute='auto'") as caught:
        flopwise.profile(model, torch.ones(2, 4), execute="never")
    assert isinstance(caught.value.__cause__, RuntimeError)
    _assert_same(before, _world(model))


def test_the_users_exception_on_the_shadow_is_raised_from_the_real_run():
    model = Boom().train()
    x = torch.randn(3, 4)
    before = _world(model)
    with pytest.raises(ValueError) as caught:
        flopwise.profile(model, x)
    assert caught.value is model.error
    _assert_same(before, _world(model))


def test_inputs_are_not_touched_and_meta_models_need_no_shadows():
    x = torch.randn(2, 3, requires_grad=True)
    model = torch.nn.Linear(3, 2)
    report = flopwise.profile(model, x, backward=True)
    assert report.run.executed == "shadow" and x.grad is None and x.device.type == "cpu"
    with torch.device("meta"):
        meta_model = torch.nn.Linear(3, 2)
    assert flopwise.profile(meta_model, torch.empty(2, 3, device="meta")).run.executed == "meta"
    assert flopwise.profile(model, x, fake=True).run.executed == "fake"


def test_an_unknown_execute_choice_is_a_usage_error():
    with pytest.raises(flopwise.UsageError, match="'sometimes'.*'auto', 'always', 'never'"):
        flopwise.profile(torch.nn.Linear(2, 2), torch.ones(1, 2), execute="sometimes")


def _tiny(kind: str):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    if kind == "gpt2":
        return transformers.GPT2LMHeadModel(transformers.GPT2Config(
            n_embd=32, n_layer=2, n_head=4, vocab_size=100, n_positions=64,
            bos_token_id=0, eos_token_id=0))
    if kind == "bert":
        return transformers.BertModel(transformers.BertConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
            vocab_size=100))
    return transformers.LlamaForCausalLM(transformers.LlamaConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=100))


@pytest.mark.parametrize("kind", ["gpt2", "bert", "llama"])
@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_transformers_count_the_same_on_shadows_as_for_real(kind, backward):
    model = _tiny(kind).train(backward)
    ids = torch.randint(0, 100, (2, 16))
    shadow = flopwise.profile(model, (), {"input_ids": ids}, backward=backward)
    real = flopwise.profile(model, (), {"input_ids": ids}, backward=backward, execute="always")
    assert (shadow.run.executed, real.run.executed) == ("shadow", "real")
    assert shadow.events == real.events


def test_a_padding_mask_is_read_by_value_so_the_model_runs_for_real():
    # transformers drops an all-ones attention mask after reading it (.item()): a real run
    model = _tiny("llama").eval()
    kwargs = {"input_ids": torch.randint(0, 100, (2, 16)),
              "attention_mask": torch.ones(2, 16, dtype=torch.long)}
    report = flopwise.profile(model, (), kwargs)
    assert report.run.executed.startswith("real (fallback: ")
    assert report.events == flopwise.profile(model, (), kwargs, execute="always").events


def test_recurrent_layers_run_for_real_since_their_kernel_depends_on_the_device():
    lstm = torch.nn.LSTM(6, 5, num_layers=2, batch_first=True)
    x = torch.randn(2, 3, 6)
    report = flopwise.profile(lstm, x)
    assert report.run.executed == "real (fallback: nn.LSTM runs a device-specific fused kernel)"
    assert report.events == flopwise.profile(lstm, x, execute="always").events
    assert flopwise.profile(lstm, x, execute="never").run.executed == "shadow"
