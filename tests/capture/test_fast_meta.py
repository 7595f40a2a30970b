"""The shape-only stand-ins must build exactly what the real kernels build (shape, strides,
dtype): the batch-norm stand-in and the metadata cache of :mod:`flopwise.capture.fast_meta`."""

from __future__ import annotations

import pytest
import torch

from flopwise.capture.fast_meta import FAST_META, MetaCache, all_meta

aten = torch.ops.aten


def _tensor(shape, dtype=torch.float32, channels_last=False, device="meta"):
    x = torch.ones(shape, device=device, dtype=dtype)
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
    return [(tuple(o.shape), o.stride(), o.dtype) for o in outputs]


def _layouts(outputs):
    return [(tuple(o.shape), o.stride()) for o in outputs]


def _batch_norm_args(shape, dtype, channels_last, affine, running, device):
    c = shape[1]     # parameters and statistics in the input's dtype, as model.to(dtype) makes
    weight = torch.ones(c, device=device, dtype=dtype) if affine else None
    return (_tensor(shape, dtype, channels_last, device), weight, weight,
            torch.zeros(c, device=device, dtype=dtype) if running else None,
            torch.ones(c, device=device, dtype=dtype) if running else None)


@pytest.mark.parametrize("shape,dtype,channels_last,affine,running,training", CASES)
def test_batch_norm_matches_the_cpu_kernel(shape, dtype, channels_last, affine, running,
                                           training):
    # shapes and strides as the cpu kernel: eval returns empty statistics there (and on cuda),
    # where torch's meta kernel returns [C] ones; dtypes as torch's meta kernel (statistics of
    # half-precision inputs in float32, as on cuda; the cpu kernel keeps bf16 without params)
    meta = _batch_norm_args(shape, dtype, channels_last, affine, running, "meta")
    cpu = _batch_norm_args(shape, dtype, channels_last, affine, running, "cpu")
    expected = aten.native_batch_norm.default(*cpu, training, 0.1, 1e-5)
    fast = FAST_META[aten.native_batch_norm.default](*meta, training, 0.1, 1e-5)
    torchs_meta = aten.native_batch_norm.default(*meta, training, 0.1, 1e-5)
    assert _layouts(fast) == _layouts(expected)
    assert [o.dtype for o in fast] == [o.dtype for o in torchs_meta]
    assert fast[1].shape == ((shape[1],) if training else (0,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_no_training_variant_matches_the_cpu_kernel(dtype):
    meta = _batch_norm_args((2, 3, 4, 4), dtype, True, True, True, "meta")
    cpu = _batch_norm_args((2, 3, 4, 4), dtype, True, True, True, "cpu")
    expected = aten._native_batch_norm_legit_no_training.default(*cpu, 0.1, 1e-5)
    fast = FAST_META[aten._native_batch_norm_legit_no_training.default](*meta, 0.1, 1e-5)
    torchs_meta = aten._native_batch_norm_legit_no_training.default(*meta, 0.1, 1e-5)
    assert _layouts(fast) == _layouts(expected)
    assert [o.dtype for o in fast] == [o.dtype for o in torchs_meta]


def test_only_all_meta_calls_take_the_fast_path():
    meta, real = torch.empty(2, device="meta"), torch.empty(2)
    assert all_meta((meta, None, 0.1), {})
    assert not all_meta((meta, real), {})
    assert not all_meta((1, 2), {})
    # module weights are Parameters: still plain meta tensors
    assert all_meta((meta, torch.nn.Parameter(torch.empty(2, device="meta"))), {})


# -- the metadata cache ----------------------------------------------------------------------
def _x(shape, channels_last=False, dtype=torch.float32):
    return lambda device: _tensor(shape, dtype, channels_last, device)


CACHED = [
    # (op, argument makers (device -> value) or plain values)
    pytest.param(aten.add.Tensor, (_x((2, 3, 4, 4)), _x((2, 3, 4, 4))), id="add"),
    pytest.param(aten.add.Tensor, (_x((2, 3, 4, 4), True), _x((2, 3, 4, 4), True)), id="add-cl"),
    pytest.param(aten.mul.Tensor, (_x((2, 3, 4, 4)), _x((1, 3, 1, 1))), id="mul-broadcast"),
    pytest.param(aten.mul.Tensor, (_x((2, 3, 1, 1), True), 0.5), id="mul-scalar-size1-cl"),
    pytest.param(aten.div.Tensor, (_x((2, 3), dtype=torch.int64), _x((2, 3), dtype=torch.int64)),
                 id="div-int-promotes"),
    pytest.param(aten.hardswish.default, (_x((2, 5, 3, 3), True),), id="hardswish-cl"),
    pytest.param(aten.hardsigmoid.default, (_x((1, 8, 1, 1)),), id="hardsigmoid-size1"),
    pytest.param(aten.gelu.default, (_x((2, 7, 16), dtype=torch.bfloat16),), id="gelu-bf16"),
    pytest.param(aten.convolution.default,
                 (_x((1, 3, 9, 9)), _x((4, 3, 3, 3)), None, [2, 2], [1, 1], [1, 1], False,
                  [0, 0], 1), id="conv"),
    pytest.param(aten.addmm.default, (_x((5,)), _x((2, 4)), _x((4, 5))), id="addmm"),
    pytest.param(aten.mean.dim, (_x((2, 3, 4, 4), True), [-1, -2], True), id="mean-cl"),
    pytest.param(aten.native_layer_norm.default, (_x((2, 5, 8)), [8], _x((8,)), _x((8,)), 1e-5),
                 id="layer-norm"),
]


def as_list(out):
    return [out] if isinstance(out, torch.Tensor) else list(out)


def _make(values, device):
    return tuple(v(device) if callable(v) else v for v in values)


@pytest.mark.parametrize("op,values", CACHED)
def test_cache_hits_build_what_the_cpu_kernel_builds(op, values):
    cache = MetaCache()
    first = cache.run(op, _make(values, "meta"), {})
    again = cache.run(op, _make(values, "meta"), {})
    expected = op(*_make(values, "cpu"))
    assert cache.hits == 1
    assert _metadata(as_list(again)) == _metadata(as_list(first)) == _metadata(as_list(expected))


def test_pointwise_ops_hit_across_sizes_of_one_layout():
    cache = MetaCache()
    for side in (4, 8, 16):
        out = cache.run(aten.hardswish.default, (_tensor((2, 3, side, side), device="meta",
                                                         channels_last=True),), {})
        assert out.shape == (2, 3, side, side) and out.stride() == (3 * side * side, 1, 3 * side, 3)
    assert cache.hits == 2       # the second and third sizes


def test_in_place_pointwise_ops_return_their_input_and_others_are_not_cached():
    cache = MetaCache()
    x = _tensor((2, 3), device="meta")
    assert cache.run(aten.relu_.default, (x,), {}) is x
    assert cache.run(aten.relu_.default, (x,), {}) is x and cache.hits == 1
    # resize_ changes its input's metadata: it must run every time
    y = _tensor((2, 3), device="meta")
    cache.run(aten.resize_.default, (y, [4, 5]), {})
    z = _tensor((2, 3), device="meta")
    cache.run(aten.resize_.default, (z, [4, 5]), {})
    assert z.shape == (4, 5) and cache.hits == 1
    # views alias their input: never built fresh
    view = cache.run(aten.view.default, (x, [3, 2]), {})
    assert view._is_view() and view._base is x
    assert cache.hits == 1


def test_real_tensors_are_not_cached():
    cache = MetaCache()
    x = torch.ones(2, 3)
    out = cache.run(aten.add.Tensor, (x, x), {})
    cache.run(aten.add.Tensor, (x, x), {})
    assert torch.equal(out, torch.full((2, 3), 2.0)) and cache.hits == 0


def test_the_cache_is_bounded():
    cache = MetaCache(limit=2)
    for n in (2, 3, 4):
        cache.run(aten.mm.default, (_tensor((n, 5), device="meta"), _tensor((5, 1), device="meta")),
                  {})
    out = cache.run(aten.mm.default, (_tensor((2, 5), device="meta"),
                                      _tensor((5, 1), device="meta")), {})
    assert out.shape == (2, 1) and cache.hits == 0      # (2, 5) was dropped when the cache filled


def test_calls_share_a_key_only_when_their_arguments_metadata_are_equal():
    from flopwise.capture.fast_meta import _call_key

    add = torch.ops.aten.add.Tensor
    x, y = torch.empty(2, 3, device="meta"), torch.empty(2, 3, device="meta")
    same = [_call_key(add, (x, y), {}), _call_key(add, (y, x), {})]
    assert same[0] == same[1] and hash(same[0]) == hash(same[1])
    # one argument's metadata, or the way the arguments are passed, changes the key
    different = [
        _call_key(add, (x, y), {}),
        _call_key(add, (x, torch.empty(3, 2, device="meta").t()), {}),   # strides (1, 2)
        _call_key(add, (x, torch.empty(2, 3, device="meta", dtype=torch.half)), {}),
        _call_key(add, (x, y), {"alpha": 2}),
        _call_key(add, (x, y, 2), {}),
        _call_key(add, (x, y), {"alpha": 2.0}),          # 2 and 2.0 are equal, not alike
        _call_key(add, (x, [2, 3]), {}),                 # a list of x's sizes
        _call_key(add, (x, (2, 3)), {}),
        _call_key(add, (x, [[2, 3]]), {}),
        _call_key(add, (x, [2], 3), {}),
        _call_key(torch.ops.aten.sub.Tensor, (x, y), {}),
    ]
    assert None not in different
    assert len(set(different)) == len(different)
    assert _call_key(add, (torch.empty(2, 3), y), {}) is None   # a real tensor: not cached
    assert _call_key(add, (x, object()), {}) is None           # a value with no signature


def test_int_lists_floats_and_bools_key_apart():
    from flopwise.capture.fast_meta import _call_key

    x = torch.empty(2, 3, device="meta")
    mean = torch.ops.aten.mean.dim
    keys = [_call_key(mean, (x, [1]), {}), _call_key(mean, (x, [1.0]), {}),
            _call_key(mean, (x, [True]), {}), _call_key(mean, (x, (1,)), {}),
            _call_key(mean, (x, [1, 1]), {})]
    assert None not in keys and len(set(keys)) == len(keys)
    assert _call_key(mean, (x, [1]), {}) == _call_key(mean, (x, [1]), {})
