"""Memory: hand-derived state bytes, saved-for-backward bytes, activation peaks, batch fit.

Every expectation is arithmetic over the case's dimensions (float32: 4 bytes per element).
"""

from __future__ import annotations

import pytest
import torch
import torchvision

import flopwise
from flopwise.errors import UsageError
from flopwise.memory import (
    MemoryTracker,
    fit_batch,
    largest_batch,
    measured_optimizer_state,
    optimizer_state_bytes,
    state_memory,
)

F32 = 4


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


# -- saved for backward ----------------------------------------------------------------------
def independent_saved_bytes(model: torch.nn.Module, x: torch.Tensor) -> int:
    """What autograd saves, counted with our own saved_tensors_hooks: storages once, parameters
    and buffers (batch norm saves its running statistics) left out: they are model state."""
    params = {p.untyped_storage()._cdata for p in [*model.parameters(), *model.buffers()]}
    seen: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage._cdata not in params:
            seen[storage._cdata] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(x)
    assert out.grad_fn is not None
    return sum(seen.values())


def graph_saved_bytes(output: torch.Tensor, params: list[torch.Tensor]) -> int:
    """The same, read back from the graph's nodes (``_saved_*`` attributes), no hooks at all."""
    param_keys = {p.untyped_storage()._cdata for p in params}
    seen: dict[int, int] = {}
    stack, visited = [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in visited:
            continue
        visited.add(id(node))
        for name in dir(node):
            if not name.startswith("_saved_"):
                continue
            values = getattr(node, name)
            for value in values if isinstance(values, (list, tuple)) else [values]:
                if isinstance(value, torch.Tensor):
                    storage = value.untyped_storage()
                    if storage._cdata not in param_keys:
                        seen[storage._cdata] = storage.nbytes()
        stack.extend(next_node for next_node, _ in node.next_functions)
    return sum(seen.values())


@pytest.mark.parametrize("batch", [1, 5, 32])
def test_mlp_saved_for_backward_is_hand_derived_and_matches_autograd(batch: int) -> None:
    model, x = mlp(), torch.randn(batch, 8)
    # Linear(8,16): addmm saves mat1 = x (for the weight's gradient)           4·B·8 bytes
    #   (mat2 = W1ᵀ is not needed: x needs no gradient; it would be a parameter anyway)
    # ReLU: threshold_backward saves its result r                              4·B·16 bytes
    # Linear(16,4): addmm saves mat1 = r (same storage: counted once) and mat2 = W2ᵀ (a parameter)
    expected = F32 * batch * 8 + F32 * batch * 16
    memory = flopwise.profile(model, x, backward=True, memory=True).memory
    assert memory.saved_for_backward_bytes == expected
    assert memory.saved_tensors == 2
    assert independent_saved_bytes(model, x) == expected
    output = model(x)
    assert graph_saved_bytes(output, list(model.parameters())) == expected
    # attribution: x packed while '0' ran, r while '1' ran ('2' re-saved r: not counted again)
    assert memory.module("0").saved_for_backward_bytes == F32 * batch * 8
    assert memory.module("1").saved_for_backward_bytes == F32 * batch * 16
    assert memory.module("2").saved_for_backward_bytes == 0


def test_saved_bytes_match_autograd_on_a_resnet() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    memory = flopwise.profile(model, x, backward=True, memory=True).memory
    assert memory.saved_for_backward_bytes == independent_saved_bytes(model, x)
    state = [*model.parameters(), *model.buffers()]
    assert memory.saved_for_backward_bytes == graph_saved_bytes(model(x), state)
    assert sum(m.saved_for_backward_bytes for m in memory.modules) == \
        memory.saved_for_backward_bytes


def test_no_graph_saves_nothing() -> None:
    model = mlp()
    with torch.no_grad():
        memory = flopwise.profile(model, torch.randn(5, 8), memory=True).memory
    assert memory.saved_for_backward_bytes == 0 and memory.saved_tensors == 0


# -- activation lifetimes ----------------------------------------------------------------------
def chain() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Linear(64, 32),
                               torch.nn.Linear(32, 4))


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_chain_activation_peak(grad: bool, device: str) -> None:
    # B = 2: outputs a1 = 2·64·4 = 512, a2 = 2·32·4 = 256, a3 = 2·4·4 = 32 bytes.
    # Each output is freed once the next layer has run: live after each op 512, 768 (a1 + a2),
    # then a1 is freed, 256 + 32 = 288. Peak 768, with or without an autograd graph.
    model = chain().to(device)
    with torch.set_grad_enabled(grad):
        memory = flopwise.profile(model, torch.randn(2, 8, device=device), memory=True).memory
    assert memory.activation_peak_bytes == 512 + 256
    # a graph keeps a1 and a2 (saved by the next addmm) alive: 512 + 256 + 32 at the end
    assert memory.forward_peak_bytes == (512 + 256 + 32 if grad else 512 + 256)
    assert memory.saved_for_backward_bytes == (2 * 8 * 4 + 512 + 256 if grad else 0)
    assert memory.module("1").peak_live_bytes == 768 and memory.module("2").peak_live_bytes == 288
    # inference peak: parameters + input + activations
    params = 4 * (8 * 64 + 64 + 64 * 32 + 32 + 32 * 4 + 4)
    assert memory.params_bytes == params and memory.inputs_bytes == 2 * 8 * 4
    assert memory.peak_bytes == params + 2 * 8 * 4 + 768


def test_mlp_relu_output_and_linear_input_share_one_storage() -> None:
    # h = addmm (320 B at B=5) and r = relu(h) (320 B) are live together; then h is freed and
    # the last addmm writes 80 B: peak 640.
    memory = flopwise.profile(mlp(), torch.randn(5, 8), memory=True).memory
    assert memory.activation_peak_bytes == 2 * 4 * 5 * 16
    assert [m.created_bytes for m in memory.modules] == [0, 320, 320, 80]


def test_views_are_not_new_memory() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        y = x * 2                                 # 4 KiB
        return y.view(-1).t().reshape(16, 64)[::2]  # views of y: nothing new

    memory = flopwise.profile(f, torch.randn(32, 32), memory=True).memory
    assert memory.activation_peak_bytes == 32 * 32 * 4


def test_backward_peak_of_a_linear_layer() -> None:
    # y = x Wᵀ (mm, 5·16·4 = 320 B), loss = y.sum() (4 B). Backward: ones_like(loss) (4 B),
    # expand (a view), mm for W's gradient (16·8·4 = 512 B). x is an input, W a parameter.
    layer = torch.nn.Linear(8, 16, bias=False)
    memory = flopwise.profile(layer, torch.randn(5, 8), backward=True, memory=True).memory
    assert memory.forward_peak_bytes == 320 + 4
    assert memory.backward_peak_bytes == 320 + 4 + 4 + 512
    assert memory.saved_for_backward_bytes == 5 * 8 * 4
    assert memory.grads_bytes == 16 * 8 * 4
    assert memory.peak_bytes == 16 * 8 * 4 + 5 * 8 * 4 + 840


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_fake_meta_and_real_agree(backward: bool) -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    real = flopwise.profile(model, x, backward=backward, memory=True).memory.to_dict()
    fake = flopwise.profile(model, x, backward=backward, fake=True, memory=True).memory.to_dict()
    meta = flopwise.profile(model.to("meta"), x.to("meta"), backward=backward,
                            memory=True).memory.to_dict()
    assert real == fake == meta


def test_inference_peak_under_grad_equals_a_no_grad_run() -> None:
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        plain = flopwise.profile(model, x, memory=True).memory
    graph = flopwise.profile(model, x, memory=True).memory
    assert plain.forward_peak_bytes == plain.activation_peak_bytes      # nothing saved
    assert graph.activation_peak_bytes == plain.activation_peak_bytes
    assert graph.forward_peak_bytes > graph.activation_peak_bytes


# -- hooks, non-intrusion, JSON ------------------------------------------------------------------
def test_hooks_are_removed_also_when_the_model_raises() -> None:
    def broken(x: torch.Tensor) -> torch.Tensor:
        (x * 2).relu()
        raise ValueError("user error")

    x = torch.randn(3, requires_grad=True)
    with pytest.raises(ValueError, match="user error"):
        flopwise.profile(broken, x, memory=True)
    assert torch._C._autograd._top_saved_tensors_default_hooks(False) is None


def test_users_saved_tensor_hooks_still_run() -> None:
    packed: list[tuple[int, ...]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        packed.append(tuple(t.shape))
        return t

    model = mlp()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        memory = flopwise.profile(model, torch.randn(5, 8), backward=True, memory=True).memory
        top = torch._C._autograd._top_saved_tensors_default_hooks(False)
    assert top is not None and top[0] is pack
    assert (5, 8) in packed and (5, 16) in packed
    assert memory.saved_for_backward_bytes == 480


def test_memory_is_opt_in_and_costs_are_the_same_either_way() -> None:
    report = flopwise.profile(mlp(), torch.randn(2, 8))
    assert report.memory is None and "memory" not in report.to_dict()
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(num_classes=10)
    x = torch.randn(2, 3, 32, 32)
    for backward in (False, True):
        plain = flopwise.profile(model, x, backward=backward).to_dict()
        tracked = flopwise.profile(model, x, backward=backward, memory=True).to_dict()
        # the hooks change which zero-cost aten.detach calls autograd makes, nothing else
        assert tracked.pop("memory")
        for data in (plain, tracked):
            data["ops"] = [row for row in data["ops"] if row["op"] != "aten.detach.default"]
        assert plain == tracked


def test_inplace_modification_of_a_saved_tensor_still_raises() -> None:
    def bad(x: torch.Tensor) -> torch.Tensor:
        y = x.exp()           # exp saves its result
        y.add_(1)             # ... which is then modified in place
        return y

    x = torch.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        flopwise.profile(bad, x, backward=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        flopwise.profile(bad, x, backward=True, memory=True)


def test_json_has_the_memory_fields_as_ints() -> None:
    report = flopwise.profile(mlp(), torch.randn(5, 8), backward=True, memory=True)
    data = report.to_dict()["memory"]
    for key in ("params_bytes", "grads_bytes", "optimizer_bytes", "activation_peak_bytes",
                "saved_for_backward_bytes", "peak_bytes"):
        assert type(data[key]) is int, key
    assert [m["name"] for m in data["modules"]] == ["", "0", "1", "2"]
    assert data["grads_bytes"] == data["params_bytes"] == 4 * (8 * 16 + 16 + 16 * 4 + 4)


# -- parameters, gradients, optimizer state ---------------------------------------------------------
def two_dtype_params() -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.randn(10, 10, dtype=torch.bfloat16)),
            torch.nn.Parameter(torch.randn(10))]


def real_state_bytes(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    totals: dict[str, int] = {}
    for state in optimizer.state.values():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                totals[name] = totals.get(name, 0) + value.numel() * value.element_size()
    return totals


OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {"lr": 0.1}, {}),
    # 100 bf16 (2 B) + 10 fp32 (4 B) elements: one buffer each
    "sgd-momentum": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9},
                     {"momentum_buffer": 100 * 2 + 10 * 4}),
    "adam": (torch.optim.Adam, {}, {"exp_avg": 240, "exp_avg_sq": 240, "step": 2 * 4}),
    "adamw-amsgrad": (torch.optim.AdamW, {"amsgrad": True},
                      {"exp_avg": 240, "exp_avg_sq": 240, "max_exp_avg_sq": 240, "step": 8}),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_matches_what_torch_allocates(name: str) -> None:
    cls, options, expected = OPTIMIZERS[name]
    params = two_dtype_params()
    optimizer = cls(params, **options)
    assert measured_optimizer_state(optimizer) == expected      # meta step: nothing allocated
    assert not optimizer.state
    state = state_memory(params, optimizer)
    assert dict(state.optimizer_bytes_by_state) == expected
    for param in params:
        param.grad = torch.ones_like(param)
    optimizer.step()
    assert real_state_bytes(optimizer) == expected


def test_state_by_name_and_dtype() -> None:
    params = two_dtype_params()
    state = state_memory(params, "adam")
    assert state.params_bytes == 100 * 2 + 10 * 4
    assert dict(state.params_bytes_by_dtype) == {"bfloat16": 200, "float32": 40}
    assert state.grads_bytes == 240 and state.optimizer_bytes == 2 * 240 + 8
    assert state_memory(params, "sgd", momentum=0.9).optimizer_bytes == 240
    assert state_memory(params, "sgd").optimizer_bytes == 0


def test_mixed_precision_is_16_bytes_per_param_and_megatron_18() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(100, 100), torch.nn.Linear(100, 10))
    model[1].requires_grad_(False)                       # frozen: weights only
    trainable, frozen = 100 * 100 + 100, 100 * 10 + 10
    mixed = state_memory(model, "adamw", precision="mixed")
    # ZeRO: 2 (bf16 weights) + 2 (bf16 grads) + 4 (fp32 master) + 4 + 4 (fp32 moments)
    assert mixed.params_bytes == 2 * (trainable + frozen)
    assert mixed.grads_bytes == 2 * trainable
    assert mixed.optimizer_bytes == 12 * trainable
    assert mixed.total_bytes == 16 * trainable + 2 * frozen
    megatron = state_memory(model, "adamw", precision="mixed-fp32-grads")
    assert megatron.grads_bytes == 4 * trainable                # fp32 main grads
    assert megatron.total_bytes == 18 * trainable + 2 * frozen
    assert state_memory(model, "sgd-momentum", precision="mixed").optimizer_bytes == 8 * trainable
    assert state_memory(model, training=False).total_bytes == 4 * (trainable + frozen)


def test_optimizer_state_bytes_arithmetic() -> None:
    assert optimizer_state_bytes("adamw", 1000, 4, tensors=3) == {
        "exp_avg": 4000, "exp_avg_sq": 4000, "step": 12}
    assert optimizer_state_bytes("adam", 10, 2, precision="mixed", amsgrad=True) == {
        "master_params": 40, "exp_avg": 40, "exp_avg_sq": 40, "max_exp_avg_sq": 40}


def test_unknown_optimizer_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown optimizer 'lamb'"):
        state_memory(torch.nn.Linear(2, 2), "lamb")


def test_profile_with_an_optimizer_counts_its_state() -> None:
    model = mlp()
    optimizer = torch.optim.Adam(model.parameters())
    memory = flopwise.profile(model, torch.randn(5, 8), backward=True, optimizer=optimizer,
                              memory=True).memory
    params = 8 * 16 + 16 + 16 * 4 + 4
    assert memory.optimizer_bytes == 2 * 4 * params + 4 * 4          # 2 moments, 4 step counters
    assert memory.peak_bytes == (memory.params_bytes + memory.inputs_bytes
                                 + memory.optimizer_bytes + memory.backward_peak_bytes)
    assert not optimizer.state


# -- batch fit --------------------------------------------------------------------------------
def test_fit_batch_arithmetic() -> None:
    fit = fit_batch((2, 4), (1_100, 1_900), 10_000, device="toy")
    # 800 bytes over 2 samples: 400 per sample; fixed = 1100 − 2·400 = 300; (10000 − 300) // 400
    assert (fit.bytes_per_sample, fit.fixed_bytes, fit.batch) == (400, 300, 24)
    assert fit.peak_at(24) <= 10_000 < fit.peak_at(25)
    assert fit_batch((1, 2), (100, 150), 10_000, usable_fraction=0.5).batch == (5_000 - 50) // 50
    with pytest.raises(UsageError, match="does not grow with the batch"):
        fit_batch((1, 2), (100, 100), 10_000)


def test_largest_batch_for_a_linear_layer_on_h100() -> None:
    model = torch.nn.Linear(1024, 1024, device="meta")
    fit = largest_batch(model, lambda b: ((torch.empty(b, 1024, device="meta"),), {}), "h100-sxm")
    # inference peak = params + input + output: 4·(1024² + 1024) + b·(4·1024 + 4·1024)
    assert fit.fixed_bytes == 4 * (1024 * 1024 + 1024)
    assert fit.bytes_per_sample == 8 * 1024
    assert fit.batch == (80 * 10**9 - 4 * (1024 * 1024 + 1024)) // (8 * 1024)
    assert fit.to_dict()["device"] == "h100-sxm"


def test_tracker_alone() -> None:
    from flopwise.capture.mode import CountingMode
    from flopwise.capture.scope import ModuleScope
    from flopwise.formulas import builtin_registry

    x = torch.randn(4, 256)
    tracker = MemoryTracker()
    with tracker.tracking(inputs=(x,)), CountingMode(builtin_registry(), ModuleScope({}),
                                                      (tracker,)):
        (x * 2).relu().sum()
    assert tracker.trace().activation_peak_bytes == 2 * 4 * 4 * 256


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "backward"])
def test_memory_tracking_leaves_model_and_torch_as_found(backward: bool) -> None:
    from tests.capture.test_run import _assert_same, _world

    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=10).train()
    model.register_forward_hook(lambda *a: None)
    x = torch.randn(2, 3, 32, 32)
    before = _world(model)
    flopwise.profile(model, x, backward=backward, memory=True,
                     optimizer=torch.optim.AdamW(model.parameters()) if backward else None)
    _assert_same(before, _world(model))
    assert torch._C._autograd._top_saved_tensors_default_hooks(False) is None
