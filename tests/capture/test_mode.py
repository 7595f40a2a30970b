"""The counting mode's per-signature records (:mod:`flopwise.capture.mode`): an op called again
with the same arguments' metadata reuses its first call's record instead of building specs and
running the formula, and that record is exactly what a fresh count gives."""

from __future__ import annotations

import torch

from flopwise import default_registry
from flopwise.capture.events import Status
from flopwise.capture.fast_meta import MetaCache
from flopwise.capture.mode import CountingMode
from flopwise.capture.scope import ModuleScope
from flopwise.formulas import builtin_registry
from flopwise.formulas.spec import Cost

aten = torch.ops.aten

# a 3x3 convolution, 3 -> 4 channels, padding 1, on a 1x3x8x8 input: output 1x4x8x8
CONV_MACS = 1 * 4 * 8 * 8 * (3 * 3 * 3)            # 6,912: an output element sums 27 products
CONV_READ = (1 * 3 * 8 * 8 + 4 * 3 * 3 * 3) * 4    # input and weight, float32: 1,200 bytes
CONV_WRITTEN = 1 * 4 * 8 * 8 * 4                   # the output: 1,024 bytes


def _conv(mode: CountingMode) -> torch.Tensor:
    x = torch.empty(1, 3, 8, 8, device="meta")
    weight = torch.empty(4, 3, 3, 3, device="meta")
    with mode:
        out: torch.Tensor = torch.nn.functional.conv2d(x, weight, padding=1)
    return out


def _mode(cache: MetaCache, registry=None) -> CountingMode:
    mode = CountingMode(registry or builtin_registry(), ModuleScope({}))
    mode._meta = cache
    return mode


def test_a_repeated_call_reuses_its_record_and_equals_a_fresh_count():
    cache = MetaCache()
    mode = _mode(cache)
    first, again = _conv(mode), _conv(mode)
    assert cache.hits == 1                  # the second call built its output from the slot
    assert again.shape == first.shape == (1, 4, 8, 8) and again is not first
    miss, hit = mode.events
    assert hit == miss
    assert (hit.op, hit.status, hit.in_shape, hit.out_shape) == (
        "aten.convolution.default", Status.COUNTED, (1, 3, 8, 8), (1, 4, 8, 8))
    assert (hit.cost.macs, hit.cost.bytes_read, hit.cost.bytes_written) == (
        CONV_MACS, CONV_READ, CONV_WRITTEN)
    # a fresh cache (nothing remembered) counts the same event
    (fresh,) = _fresh_events()
    assert fresh == hit


def _fresh_events():
    mode = _mode(MetaCache())
    _conv(mode)
    return mode.events


def test_a_record_serves_only_the_formula_that_made_it():
    cache = MetaCache()
    _conv(_mode(cache))                     # the built-in formula's record is in the slot
    doubled = default_registry()        # a copy: the built-in registry stays as it is

    @doubled.register(aten.convolution.default, family="conv", override=True)
    def conv_twice(result, x, weight, *rest):
        return Cost(macs=2 * CONV_MACS)

    mode = _mode(cache, doubled)
    _conv(mode)
    assert mode.events[0].cost.macs == 2 * CONV_MACS


def test_a_formula_error_is_reported_again_when_its_record_is_reused():
    cache = MetaCache()
    broken = default_registry()

    @broken.register(aten.convolution.default, family="conv", override=True)
    def conv_fails(result, x, weight, *rest):
        raise ValueError("no stride")

    first, second = _mode(cache, broken), _mode(cache, broken)
    _conv(first)
    _conv(second)
    for mode in (first, second):
        assert mode.events[0].status is Status.UNSUPPORTED
        assert mode.formula_errors == {"aten.convolution.default": "ValueError: no stride"}
    # bytes are still filled in: the input and weight read, the output written
    assert second.events[0].cost.bytes_read == CONV_READ
