"""The engine's contracts: relations between runs, tree invariants, conventions, strict mode,
fake tensors, optimizer steps, custom formulas, and leaving the user's world untouched."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import flopwise
from flopwise.formulas.spec import Cost
from flopwise.report import summed
from tests.formulas.support import summed as summed_ops


def _mlp(widths: list[int], bias: bool = True) -> torch.nn.Sequential:
    layers: list[torch.nn.Module] = []
    for a, b in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(a, b, bias=bias), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers)


# -- relations -----------------------------------------------------------------------------------
def test_conv_backward_is_twice_forward_when_the_input_needs_grad():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    report = flopwise.profile(conv, x, backward=True)
    assert report.phases["backward"].macs == 2 * report.phases["forward"].macs
    # without input gradient only the weight gradient remains: 1× forward
    report = flopwise.profile(conv, x.detach(), backward=True)
    assert report.phases["backward"].macs == report.phases["forward"].macs


@settings(max_examples=10, deadline=None)
@given(batch=st.integers(min_value=1, max_value=6))
def test_batch_scaling_is_linear(batch):
    with torch.device("meta"):
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                    torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 36, 5))
    one = flopwise.profile(model, torch.empty(1, 3, 8, 8, device="meta"))
    many = flopwise.profile(model, torch.empty(batch, 3, 8, 8, device="meta"))
    assert many.total.macs == batch * one.total.macs
    assert many.total.flops == batch * one.total.flops


@settings(max_examples=15, deadline=None)
@given(widths=st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=5),
       batch=st.integers(min_value=1, max_value=4), backward=st.booleans())
def test_tree_invariants(widths, batch, backward):
    model = _mlp(widths)
    report = flopwise.profile(model, torch.randn(batch, widths[0]), backward=backward)
    rows = {row.name: row for row in report.modules()}
    for node in report.tree.nodes.values():
        children = [rows[c] for c in node.children]
        row = rows[node.name]
        assert row.macs == row.self_macs + sum(c.macs for c in children)
        assert row.flops == row.self_flops + sum(c.flops for c in children)
        assert row.params == node.own_params + sum(c.params for c in children)
    total = summed(report.events)
    assert report.total.macs == total.macs
    assert report.total.bytes_read == total.bytes_read
    assert report.total.flops == report.convention.flops(total)
    assert report.total.params == sum(p.numel() for p in model.parameters())
    # forward MACs: batch · Σ a·b over consecutive widths
    expected = batch * sum(a * b for a, b in zip(widths, widths[1:]))
    assert report.phases["forward"].macs == expected


# -- conventions ---------------------------------------------------------------------------------
def test_conventions_on_linear_layers():
    # Linear(4, 3) on 2 rows: 24 MACs, 6 dot products of 4 terms
    x = torch.randn(2, 4)
    with_bias = flopwise.profile(torch.nn.Linear(4, 3), x)
    without = flopwise.profile(torch.nn.Linear(4, 3, bias=False), x)
    assert with_bias.total.flops == 2 * 24                      # standard: 2 per MAC
    assert with_bias.using("matmul").total.flops == 2 * 24
    assert with_bias.using("macs").total.flops == 24            # FLOPs = MACs
    assert with_bias.using("exact").total.flops == 2 * 4 * 6    # 2k with a bias
    assert without.using("exact").total.flops == (2 * 4 - 1) * 6  # 2k − 1 without
    assert with_bias.using("exact").convention.name == "exact"
    assert with_bias.convention.name == "standard"              # using() does not mutate


def test_conv_textbook_cases():
    # formulas.md, Molchanov eq. 11: Conv2d(3→32, 3×3) on 224² → 222² output
    x = torch.empty(1, 3, 224, 224, device="meta")
    with torch.device("meta"):
        biased, plain = torch.nn.Conv2d(3, 32, 3), torch.nn.Conv2d(3, 32, 3, bias=False)
    hw, k = 222 * 222, 3 * 3 * 3
    report = flopwise.profile(biased, x, convention="exact")
    assert report.total.flops == 2 * k * hw * 32                # case 1
    assert flopwise.profile(plain, x, convention="exact").total.flops == (2 * k - 1) * hw * 32
    assert report.using("macs").total.flops == k * hw * 32      # case 3
    assert report.total.params == 896                           # torchstat's example


def test_standard_counts_elementwise_and_matmul_does_not():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU())
    report = flopwise.profile(model, torch.randn(2, 4))
    assert report.total.flops == 48 + 6                         # + ReLU on 2·3 outputs
    assert report.using("matmul").total.flops == 48


def test_unknown_convention_suggests():
    with pytest.raises(flopwise.UsageError, match="did you mean macs"):
        flopwise.profile(torch.nn.Linear(2, 2), torch.randn(1, 2), convention="mac")


def test_json_schema():
    report = flopwise.profile(_mlp([4, 3]), torch.randn(2, 4), backward=True)
    data = report.to_dict()
    assert data["schema"] == 2 and data["convention"] == "standard"
    assert set(data["total"]) >= {"params", "macs", "flops", "bytes_read", "bytes_written"}
    assert set(data["phases"]) == {"forward", "backward"}
    assert data["total"]["macs"] == data["phases"]["forward"]["macs"] + \
        data["phases"]["backward"]["macs"]
    assert data["modules"][0]["name"] == "" and data["modules"][1]["name"] == "0"
    assert isinstance(data["unsupported"], dict)
    for key in ("params", "macs", "flops", "bytes_read", "bytes_written"):
        assert type(data["total"][key]) is int


# -- module tree ---------------------------------------------------------------------------------
class Shared(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(4, 4)
        self.b = self.a                       # the same module under two names
        self.unused = torch.nn.Linear(4, 100)

    def forward(self, x):
        return self.b(self.a(x)) @ torch.ones(4, 2)   # a functional matmul in the root


def test_shared_unused_and_functional():
    report = flopwise.profile(Shared(), torch.randn(3, 4))
    rows = {row.name: row for row in report.modules()}
    assert "b" not in rows                                   # listed once, under its first name
    assert rows["a"].calls == 2 and rows["a"].macs == 2 * 3 * 4 * 4
    assert rows["a"].params == 4 * 4 + 4                     # counted once
    assert not rows["unused"].called and rows["unused"].macs == 0
    assert rows[""].self_macs == 3 * 4 * 2                   # the root's own `@`
    assert report.total.params == 20 + 4 * 100 + 100


def test_backward_ops_are_attributed_to_their_modules():
    model = _mlp([4, 5, 3])
    report = flopwise.profile(model, torch.randn(2, 4), backward=True)
    # layer "2" (5 → 3): grad input 2·3·5 + grad weight 2·5·3; layer "0": grad weight only
    assert summed_ops(report, ("aten.mm",), "backward").macs == 2 * 30 + 2 * 4 * 5
    assert report.module("2").phase_flops["backward"] >= 2 * 2 * 30
    assert {e.module for e in report.events_of(phase="backward", op="aten.mm")} == {"0", "2"}


# -- strict, fake, optimizer, custom formulas ----------------------------------------------------
@torch.library.custom_op("flopwise_test::scale", mutates_args=())
def _scale(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@_scale.register_fake
def _(x):
    return torch.empty_like(x)


def test_unsupported_ops_are_listed_and_strict_raises():
    report = flopwise.profile(lambda x: _scale(x), (torch.randn(3),))
    assert report.unsupported == {"flopwise_test.scale.default": 1}
    with pytest.raises(flopwise.UnsupportedOpsError, match="flopwise_test.scale"):
        flopwise.profile(lambda x: _scale(x), (torch.randn(3),), strict=True)


def test_custom_formula_on_a_registry_copy():
    registry = flopwise.default_registry()

    @registry.register("flopwise_test.scale", family="custom")
    def scale(result, x):
        return Cost(elementwise=x.numel)

    report = flopwise.profile(lambda x: _scale(x), (torch.randn(3),), registry=registry)
    assert report.unsupported == {} and report.total.flops == 3
    # the built-in registry is unchanged
    assert flopwise.profile(lambda x: _scale(x), (torch.randn(3),)).unsupported


def test_duplicate_registration_is_an_error():
    registry = flopwise.default_registry()
    with pytest.raises(flopwise.UsageError, match="already registered"):
        registry.register("aten.mm", family="matmul")(lambda result, a, b: Cost())


def test_fake_mode_counts_a_real_model_without_computing():
    model = _mlp([8, 16, 2])
    x = torch.randn(4, 8)
    real = flopwise.profile(model, x)
    fake = flopwise.profile(model, x, fake=True)
    assert fake.total.macs == real.total.macs == 4 * (8 * 16 + 16 * 2)
    assert fake.run.mode == "fake" and real.run.mode == "real"


def test_optimizer_step_is_counted_on_shadows():
    model = torch.nn.Linear(4, 3)                 # 15 parameters
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    report = flopwise.profile(model, torch.randn(2, 4), backward=True, optimizer=sgd)
    assert "optimizer" in report.phases
    # plain SGD: p −= lr·g, an add of a scaled gradient: 1 add (alpha folded) per element
    assert report.phases["optimizer"].flops > 0
    adam = torch.optim.Adam(model.parameters(), lr=0.1)
    report = flopwise.profile(model, torch.randn(2, 4), backward=True, optimizer=adam)
    assert report.phases["optimizer"].flops >= 10 * 15         # ≥ 10 FLOPs per parameter
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert adam.state == {} and sgd.state == {}
    # AdamW's defaults hold keys its constructor does not take; the shadow copes
    adamw = torch.optim.AdamW(model.parameters(), weight_decay=0.1)
    report = flopwise.profile(model, torch.randn(2, 4), backward=True, optimizer=adamw)
    assert report.phases["optimizer"].flops >= 10 * 15
    # step() runs inside a record_function range, whose enter/exit markers dispatch as ops
    # (torch.ops.profiler.*): declared cost-free, never "unsupported"
    assert report.unsupported == {}
    marks = [e for e in report.events if e.op.startswith("profiler.")]
    assert marks and all(e.status.value == "zero" and e.cost.bytes_read == 0
                         and e.cost.bytes_written == 0 for e in marks)


def test_optimizer_needs_backward():
    model = torch.nn.Linear(2, 2)
    with pytest.raises(flopwise.UsageError, match="backward=True"):
        flopwise.profile(model, torch.randn(1, 2), optimizer=torch.optim.SGD(model.parameters()))


def test_backward_with_nothing_requiring_grad_is_a_clear_error():
    model = torch.nn.Linear(2, 2).requires_grad_(False)
    with pytest.raises(flopwise.UsageError, match="requires grad"):
        flopwise.profile(model, torch.randn(1, 2), backward=True)


def test_a_compiled_module_is_profiled_through_the_module_it_wraps(recwarn):
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    compiled = torch.compile(model)                 # compiles lazily: never run here
    report = flopwise.profile(compiled, torch.randn(5, 8))
    assert report.total.macs == 5 * 8 * 16 + 5 * 16 * 4                  # 960
    assert [node.name for node in report.tree.walk()] == ["", "0", "1", "2"]  # no _orig_mod.
    assert report.run.model == "Sequential"
    assert not [w for w in recwarn if "global hooks" in str(w.message)]


def test_a_list_is_one_input_and_a_tuple_is_the_positional_inputs():
    class PerImage(torch.nn.Module):            # takes a list, as torchvision's detectors do
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Linear(4, 2)

        def forward(self, images: list[torch.Tensor]) -> torch.Tensor:
            return torch.stack([self.head(image) for image in images])

    images = [torch.randn(3, 4), torch.randn(3, 4)]
    report = flopwise.profile(PerImage(), images)
    assert report.total.macs == 2 * 3 * 4 * 2                          # two images of 3×4 → 2
    pair = flopwise.profile(torch.nn.Bilinear(4, 4, 2), (torch.randn(3, 4), torch.randn(3, 4)))
    # two positional inputs: nn.Bilinear, N=3, O=2, I=J=4: N·O·J·(I+1) = 3·2·4·5
    assert pair.total.macs == 120
