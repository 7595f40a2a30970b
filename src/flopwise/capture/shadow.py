"""Shadow optimizers: the user's optimizer algorithm, run on meta copies of its parameters.

Counting an optimizer step (or measuring the state it allocates) must never touch the real
optimizer or the model, so both run one step of a *shadow*: the same class and per-group
hyper-parameters over meta tensors, each trainable one with a meta gradient.
"""

from __future__ import annotations

import inspect

import torch

__all__ = ["shadow_optimizer"]

_OFF_ON_META = ("fused", "capturable")  # kernels that need real CUDA tensors


def shadow_optimizer(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """A fresh optimizer of ``type(optimizer)`` over meta copies of its parameters.

    >>> params = [torch.nn.Parameter(torch.zeros(3))]
    >>> shadow = shadow_optimizer(torch.optim.SGD(params, lr=0.5))
    >>> shadow.param_groups[0]["params"][0].device.type, shadow.param_groups[0]["lr"]
    ('meta', 0.5)
    """
    shadows: dict[int, torch.Tensor] = {}
    groups = []
    for group in optimizer.param_groups:
        params = []
        for param in group["params"]:
            shadow = shadows.get(id(param))
            if shadow is None:
                shadow = torch.empty_like(param, device="meta").requires_grad_(param.requires_grad)
                shadow.grad = torch.empty_like(shadow) if param.requires_grad else None
                shadows[id(param)] = shadow
            params.append(shadow)
        options = {k: v for k, v in group.items() if k != "params"}
        options.update({k: False for k in _OFF_ON_META if options.get(k)})
        groups.append({**options, "params": params})
    accepted = inspect.signature(type(optimizer)).parameters
    defaults = {k: v for k, v in optimizer.defaults.items()
                if k in accepted and k not in _OFF_ON_META}
    return type(optimizer)(groups, **defaults)
