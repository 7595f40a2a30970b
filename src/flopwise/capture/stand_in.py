"""Shadows take the paths the model's own device would take.

A few of torch's front-end decisions depend on the device of the tensors, not only on their
shapes, and would make a run on meta shadows count different ops than the real run:

- ``scaled_dot_product_attention`` picks a fused kernel per device (on the CPU, usually
  ``_scaled_dot_product_flash_attention_for_cpu``); on meta it always takes the unfused math
  path (matmuls, a softmax, scalings);
- ``tensor[index] = 3`` fills a CPU or CUDA tensor with a CPU scalar (``lift_fresh``,
  ``fill_``), but builds a ``scalar_tensor`` on meta and copies it;
- ``torch.tensor(data, device=...)`` calls ``lift_fresh`` on a real device, nothing on meta.

:class:`StandIn`, a torch-function mode active only while shadows run, asks the device the model
lives on which attention kernel it would pick (``aten._fused_sdp_choice`` on empty tensors of the
same shapes, strides, dtypes and ``requires_grad``, with the counting mode switched off), and
calls that kernel on the shadows; and it assigns Python scalars as the CPU and CUDA front end
does, and builds ``torch.tensor`` on meta after a ``lift_fresh`` of its CPU value. Everything
else passes straight through; and while a plain ``torch.nn`` leaf (a convolution, a norm, an
activation...) runs, the mode steps off the stack (:meth:`StandIn.step_aside`, driven by the
module hooks of :class:`~flopwise.capture.scope.ModuleScope`), since passing each of its calls
through a Python mode costs microseconds and reaches none of these paths.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import _disable_current_modes

__all__ = ["PLAIN_LEAVES", "StandIn"]

aten = torch.ops.aten
_SDPA = torch._C._nn.scaled_dot_product_attention
_SETITEM = torch.Tensor.__setitem__
_FLASH: int = torch.nn.attention.SDPBackend.FLASH_ATTENTION.value
#: Python functions of torch that call attention inside (nn.MultiheadAttention's).
_CALLERS = frozenset({torch.nn.functional.multi_head_attention_forward})


_nn = torch.nn
#: ``torch.nn`` leaf modules whose ``forward`` (torch 2.14) reaches none of the paths above: the
#: stand-in steps off the torch-function stack while one of them runs (see
#: :meth:`StandIn.step_aside`), so their calls skip the Python mode.
PLAIN_LEAVES = frozenset({
    _nn.Conv1d, _nn.Conv2d, _nn.Conv3d, _nn.ConvTranspose1d, _nn.ConvTranspose2d,
    _nn.ConvTranspose3d, _nn.Linear, _nn.Identity, _nn.Embedding,
    _nn.BatchNorm1d, _nn.BatchNorm2d, _nn.BatchNorm3d, _nn.LayerNorm, _nn.GroupNorm, _nn.RMSNorm,
    _nn.Dropout, _nn.Dropout1d, _nn.Dropout2d, _nn.Dropout3d,
    _nn.ReLU, _nn.ReLU6, _nn.LeakyReLU, _nn.PReLU, _nn.ELU, _nn.SELU, _nn.CELU, _nn.GELU,
    _nn.SiLU, _nn.Mish, _nn.Hardswish, _nn.Hardsigmoid, _nn.Hardtanh, _nn.Sigmoid, _nn.Tanh,
    _nn.Softplus, _nn.Softmax, _nn.LogSoftmax,
    _nn.MaxPool1d, _nn.MaxPool2d, _nn.MaxPool3d, _nn.AvgPool1d, _nn.AvgPool2d, _nn.AvgPool3d,
    _nn.AdaptiveAvgPool1d, _nn.AdaptiveAvgPool2d, _nn.AdaptiveAvgPool3d,
    _nn.AdaptiveMaxPool1d, _nn.AdaptiveMaxPool2d, _nn.AdaptiveMaxPool3d, _nn.Flatten,
})


class StandIn(TorchFunctionMode):
    """Runs device-dependent front-end paths on meta shadows as on ``device`` (see module)."""

    def __init__(self, device: torch.device) -> None:
        super().__init__()
        self.device = device
        self._choices: dict[Any, int] = {}
        self._depth = -1   # the torch-function stack's depth with this mode innermost

    def __enter__(self) -> StandIn:
        entered = super().__enter__()
        self._depth = torch._C._len_torch_function_stack()
        return entered  # type: ignore[no-any-return]

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[override]
        kwargs = kwargs or {}
        if func is _SDPA and self.device.type == "cpu":
            return self._attention(*args, **kwargs)
        if func is _SETITEM and len(args) == 3 and _is_scalar(args[2]) and args[0].is_meta:
            return self._assign(*args)
        if func is torch.tensor and _on_meta(kwargs.get("device")):
            return self._tensor(*args, **kwargs)
        if func in _CALLERS:
            # the mode is off while a call is handled: re-entered for the calls inside
            with self:
                return torch.overrides.redispatch_function(func, types, args, kwargs)
        return func(*args, **kwargs)

    # -- stepping aside ---------------------------------------------------------------------
    def step_aside(self, module: Any) -> bool:
        """Leave the torch-function stack for a call of ``module`` when it is one of the plain
        ``torch.nn`` leaves (its own type, not a subclass) and the stand-in is the innermost
        mode; the caller puts it back with :meth:`step_back` when the call ends (also when it
        raised) and must make sure no other code (hooks) runs meanwhile."""
        if type(module) not in PLAIN_LEAVES:
            return False
        # innermost: the stack is as deep as when the stand-in was pushed (or put back)
        if torch._C._len_torch_function_stack() != self._depth:
            return False
        torch._C._pop_torch_function_stack()
        return True

    def step_back(self) -> None:
        torch._C._push_on_torch_function_stack(self)

    # -- attention --------------------------------------------------------------------------
    def _attention(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   attn_mask: torch.Tensor | None = None, dropout_p: float = 0.0,
                   is_causal: bool = False, scale: float | None = None,
                   enable_gqa: bool = False) -> torch.Tensor:
        tensors = (query, key, value, attn_mask)
        if not all(t is None or t.is_meta for t in tensors):
            return _SDPA(query, key, value, attn_mask, dropout_p, is_causal, scale=scale,
                         enable_gqa=enable_gqa)
        choice = self._choice(tensors, dropout_p, is_causal, scale, enable_gqa)
        if choice != _FLASH:
            return _SDPA(query, key, value, attn_mask, dropout_p, is_causal, scale=scale,
                         enable_gqa=enable_gqa)
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            # as torch's convert_boolean_attn_mask: 0 where attended, -inf elsewhere
            mask = torch.zeros_like(attn_mask, dtype=query.dtype)
            attn_mask = mask.masked_fill_(attn_mask.logical_not(), float("-inf"))
        out: torch.Tensor = aten._scaled_dot_product_flash_attention_for_cpu(
            query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]
        return out

    def _choice(self, tensors: tuple[torch.Tensor | None, ...], dropout_p: float,
                is_causal: bool, scale: float | None, enable_gqa: bool) -> int:
        key = (tuple(None if t is None else (tuple(t.shape), t.stride(), t.dtype,
                                             t.requires_grad) for t in tensors),
               dropout_p, is_causal, scale, enable_gqa, torch.is_grad_enabled())
        choice = self._choices.get(key)
        if choice is None:
            with _disable_current_modes():
                real = [None if t is None else
                        torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=self.device,
                                            requires_grad=t.requires_grad and t.is_floating_point())
                        for t in tensors]
                choice = int(aten._fused_sdp_choice(*real, dropout_p, is_causal, scale=scale,
                                                     enable_gqa=enable_gqa))
            self._choices[key] = choice
        return choice

    # -- scalar assignment ------------------------------------------------------------------
    @staticmethod
    def _assign(target: torch.Tensor, index: Any, value: float | int | bool) -> None:
        """``target[index] = value`` as on cpu/cuda: a lifted CPU scalar of target's dtype."""
        with _disable_current_modes():
            scalar = torch.scalar_tensor(value, dtype=target.dtype)
        target[index] = aten.lift_fresh(scalar)


    @staticmethod
    def _tensor(data: Any, *, device: Any, requires_grad: bool = False,
                **options: Any) -> torch.Tensor:
        """``torch.tensor(data, device=<meta>)`` as on a real device: built on the CPU, lifted
        (the op a real run records), and its shadow returned."""
        with _disable_current_modes():
            value = torch.tensor(data, **options)
        lifted = aten.lift_fresh(value)
        with _disable_current_modes():
            shadow = torch.empty_strided(lifted.shape, lifted.stride(), dtype=lifted.dtype,
                                         device="meta")
        return shadow.requires_grad_(requires_grad)


def _on_meta(device: Any) -> bool:
    return device is not None and torch.device(device).type == "meta"


def _is_scalar(value: Any) -> bool:
    return type(value) in (int, float, bool)
