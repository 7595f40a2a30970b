"""Shape-only stand-ins for a few meta kernels that torch implements slowly in Python.

On the ``meta`` device an op computes only its outputs' metadata. torch's meta kernel for batch
normalisation runs a whole Python decomposition (about ten elementwise shape checks) although
its outputs are simply the input's shape and strides plus two per-channel statistics. Counting a
ResNet-50 on meta spends half its time there. For these ops, when every tensor argument is on
the meta device, the counting mode builds the same outputs directly; a test checks them against
torch's own meta kernel (shape, strides, dtype) for training and eval, 1-3 d, channels-last,
with and without affine parameters and running statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["FAST_META", "all_meta"]

aten = torch.ops.aten
_STATS_UPCAST = (torch.float16, torch.bfloat16)
_PLAIN = (torch.Tensor, torch.nn.Parameter, torch.nn.Buffer)  # not fake or other subclasses


def _like(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device="meta")


def _stats(x: torch.Tensor) -> torch.Tensor:
    dtype = torch.float32 if x.dtype in _STATS_UPCAST else x.dtype
    return torch.empty((x.shape[1],), dtype=dtype, device="meta")


def _batch_norm(x: torch.Tensor, *args: Any, **kwargs: Any) -> tuple[torch.Tensor, ...]:
    """(output like the input, save_mean [C], save_invstd [C])."""
    return _like(x), _stats(x), _stats(x)


FAST_META: dict[Any, Callable[..., Any]] = {
    aten.native_batch_norm.default: _batch_norm,
    aten._native_batch_norm_legit_no_training.default: _batch_norm,
}


def all_meta(args: tuple, kwargs: dict) -> bool:
    """True when every tensor among the arguments (top level and in lists) is on meta."""
    found = False
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            if not value.is_meta or type(value) not in _PLAIN:
                return False
            found = True
    return found
