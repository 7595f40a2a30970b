"""The shape-only batch-norm stand-in must build exactly what torch's meta kernel builds."""

from __future__ import annotations

import pytest
import torch

from flopwise.capture.fast_meta import FAST_META, all_meta

aten = torch.ops.aten


def _meta(shape, dtype=torch.float32, channels_last=False):
    x = torch.empty(shape, device="meta", dtype=dtype)
    return x.to(memory_format=torch.channels_last) if channels_last else x


CASES = [
    pytest.param(shape, dtype, cl, affine, running, training,
                 id=f"{len(shape)}d-{str(dtype)[6:]}-{'cl' if cl else 'c'}-"
                    f"{'affine' if affine else 'plain'}-{'run' if running else 'norun'}-"
                    f"{'train' if training else 'eval'}")
    for shape, cl in [((2, 3), False), ((2, 3, 5), False), ((2, 3, 4, 4), False),
                      ((2, 3, 4, 4), True), ((2, 3, 2, 2, 2), False)]
    for dtype in (torch.float32, torch.bfloat16, torch.float64)
    for affine in (True, False)
    for running in (True, False)
    for training in (True, False)
    if running or training
]


def _metadata(outputs):
    return [(tuple(o.shape), o.stride(), o.dtype, o.device.type) for o in outputs]


@pytest.mark.parametrize("shape,dtype,channels_last,affine,running,training", CASES)
def test_batch_norm_matches_torchs_meta_kernel(shape, dtype, channels_last, affine, running,
                                               training):
    x = _meta(shape, dtype, channels_last)
    c = shape[1]
    weight = torch.empty(c, device="meta") if affine else None
    stats = torch.empty(c, device="meta") if running else None
    args = (x, weight, weight, stats, stats, training, 0.1, 1e-5)
    expected = aten.native_batch_norm.default(*args)
    assert _metadata(FAST_META[aten.native_batch_norm.default](*args)) == _metadata(expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_no_training_variant_matches(dtype):
    x = _meta((2, 3, 4, 4), dtype, channels_last=True)
    c = torch.empty(3, device="meta")
    args = (x, c, c, c, c, 0.1, 1e-5)
    expected = aten._native_batch_norm_legit_no_training.default(*args)
    fast = FAST_META[aten._native_batch_norm_legit_no_training.default](*args)
    assert _metadata(fast) == _metadata(expected)


def test_only_all_meta_calls_take_the_fast_path():
    meta, real = torch.empty(2, device="meta"), torch.empty(2)
    assert all_meta((meta, None, 0.1), {})
    assert not all_meta((meta, real), {})
    assert not all_meta((1, 2), {})
    # module weights are Parameters: still plain meta tensors
    assert all_meta((meta, torch.nn.Parameter(torch.empty(2, device="meta"))), {})
