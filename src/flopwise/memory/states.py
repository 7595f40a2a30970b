"""Bytes of the model's state: parameters, gradients and optimizer state.

Three precision regimes, per trainable parameter (frozen parameters only hold their weights):

=====================  =========  =========  ====================================  ============
precision              weights    gradients  optimizer state                       Adam total
=====================  =========  =========  ====================================  ============
``native``             own dtype  own dtype  moments in the parameter's dtype      16 B (fp32)
``mixed``              2 (16-bit) 2 (16-bit) fp32 master copy 4 + fp32 moments      16 B
``mixed-fp32-grads``   2 (16-bit) 4 (fp32)   fp32 master copy 4 + fp32 moments      18 B
=====================  =========  =========  ====================================  ============

``native`` is what ``torch.optim`` allocates: every state tensor in its parameter's dtype, plus
Adam's ``step`` counter, a float32 scalar tensor (4 bytes) per parameter tensor. ``mixed`` is
the ZeRO paper's accounting (Rajbhandari et al. 2019): bf16/fp16 weights and gradients, with an
fp32 master copy and fp32 moments in the optimizer, 2 + 2 + 12 = 16 bytes per parameter for
Adam. ``mixed-fp32-grads`` is Megatron-LM's (bf16 weights, gradients accumulated in fp32 "main
grads"): 2 + 4 + 12 = 18 bytes per parameter. The mixed regimes follow the literature and leave
out per-tensor scalars such as step counters.

>>> import torch
>>> model = torch.nn.Linear(1000, 1000)                        # 1,001,000 fp32 parameters
>>> state = state_memory(model, "adam")
>>> state.params_bytes, state.grads_bytes, state.optimizer_bytes   # 4 + 4 + 8 per param, 2 steps
(4004000, 4004000, 8008008)
>>> state_memory(model, "adam", precision="mixed").bytes_per_trainable_param
16.0
>>> state_memory(model, "adamw", precision="mixed-fp32-grads").bytes_per_trainable_param
18.0
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from flopwise.errors import UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "STEP_BYTES",
    "OptimizerKind",
    "Precision",
    "StateMemory",
    "measured_optimizer_state",
    "optimizer_state_bytes",
    "state_memory",
]

#: Bytes of Adam's per-parameter-tensor ``step`` counter in ``torch.optim`` (a float32 scalar).
STEP_BYTES = 4
_HALF_BYTES = 2
_FP32_BYTES = 4


class Precision(str, Enum):
    """How weights, gradients and optimizer state are stored during training."""

    NATIVE = "native"
    MIXED = "mixed"
    MIXED_FP32_GRADS = "mixed-fp32-grads"


class OptimizerKind(str, Enum):
    """The optimizers whose state is sized analytically."""

    NONE = "none"
    SGD = "sgd"
    SGD_MOMENTUM = "sgd-momentum"
    ADAM = "adam"
    ADAMW = "adamw"


# per-element state tensors each optimizer keeps for one parameter
_MOMENTS: dict[OptimizerKind, tuple[str, ...]] = {
    OptimizerKind.NONE: (),
    OptimizerKind.SGD: (),
    OptimizerKind.SGD_MOMENTUM: ("momentum_buffer",),
    OptimizerKind.ADAM: ("exp_avg", "exp_avg_sq"),
    OptimizerKind.ADAMW: ("exp_avg", "exp_avg_sq"),
}


@dataclass(frozen=True)
class StateMemory:
    """Parameter, gradient and optimizer-state bytes of one model under one optimizer.

    ``optimizer_bytes_by_state`` splits the optimizer's bytes by state name (``exp_avg``,
    ``exp_avg_sq``, ``momentum_buffer``, ``master_params``, ``step``, ...).
    """

    optimizer: str
    precision: str
    params: int
    trainable_params: int
    params_bytes: int
    grads_bytes: int
    optimizer_bytes: int
    params_bytes_by_dtype: Mapping[str, int] = field(default_factory=dict)
    grads_bytes_by_dtype: Mapping[str, int] = field(default_factory=dict)
    optimizer_bytes_by_state: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_bytes(self) -> int:
        """Weights + gradients + optimizer state."""
        return self.params_bytes + self.grads_bytes + self.optimizer_bytes

    @property
    def bytes_per_trainable_param(self) -> float:
        """Total bytes per trainable parameter (the literature's 16 or 18 for mixed Adam)."""
        return self.total_bytes / self.trainable_params if self.trainable_params else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "precision": self.precision,
            "params": self.params,
            "trainable_params": self.trainable_params,
            "params_bytes": self.params_bytes,
            "grads_bytes": self.grads_bytes,
            "optimizer_bytes": self.optimizer_bytes,
            "total_bytes": self.total_bytes,
            "params_bytes_by_dtype": dict(sorted(self.params_bytes_by_dtype.items())),
            "grads_bytes_by_dtype": dict(sorted(self.grads_bytes_by_dtype.items())),
            "optimizer_bytes_by_state": dict(self.optimizer_bytes_by_state),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StateMemory:
        """The inverse of :meth:`to_dict` (``total_bytes`` is derived, not read)."""
        return cls(
            optimizer=data["optimizer"], precision=data["precision"], params=data["params"],
            trainable_params=data["trainable_params"], params_bytes=data["params_bytes"],
            grads_bytes=data["grads_bytes"], optimizer_bytes=data["optimizer_bytes"],
            params_bytes_by_dtype=dict(data.get("params_bytes_by_dtype", {})),
            grads_bytes_by_dtype=dict(data.get("grads_bytes_by_dtype", {})),
            optimizer_bytes_by_state=dict(data.get("optimizer_bytes_by_state", {})),
        )


def _kind_of(optimizer: Any, momentum: float | None, amsgrad: bool | None
             ) -> tuple[OptimizerKind, bool]:
    """The analytic kind and amsgrad flag for a name or a ``torch.optim`` instance."""
    if optimizer is None:
        return OptimizerKind.NONE, False
    if isinstance(optimizer, str):
        try:
            kind = OptimizerKind(optimizer.strip().lower())
        except ValueError:
            choices = ", ".join(k.value for k in OptimizerKind)
            raise UsageError(f"unknown optimizer {optimizer!r}; choose from: {choices} (or pass "
                             "a torch.optim instance)") from None
        if kind is OptimizerKind.SGD and momentum:
            kind = OptimizerKind.SGD_MOMENTUM
        return kind, bool(amsgrad)
    if isinstance(optimizer, OptimizerKind):
        return optimizer, bool(amsgrad)
    name = type(optimizer).__name__.lower()
    defaults = getattr(optimizer, "defaults", {})
    if name == "sgd":
        return (OptimizerKind.SGD_MOMENTUM if defaults.get("momentum") else OptimizerKind.SGD), False
    if name in ("adam", "adamw"):
        return OptimizerKind(name), bool(defaults.get("amsgrad"))
    raise UsageError(f"no state model for optimizer {type(optimizer).__name__}; sized are SGD "
                     "(with or without momentum), Adam and AdamW")


def _unique_params(parameters: Any) -> list[torch.Tensor]:
    source = parameters.parameters() if hasattr(parameters, "parameters") else parameters
    found: dict[int, torch.Tensor] = {}
    for param in source:
        found.setdefault(id(param), param)
    return list(found.values())


def _dtype_name(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


def optimizer_state_bytes(kind: OptimizerKind | str, numel: int, itemsize: int, tensors: int = 1,
                          precision: Precision | str = Precision.NATIVE,
                          amsgrad: bool = False) -> dict[str, int]:
    """Optimizer state for ``numel`` trainable elements in ``tensors`` parameter tensors.

    ``itemsize`` is the parameters' bytes per element (used by ``native`` precision only).
    Returns bytes by state name.

    >>> optimizer_state_bytes("adam", 1000, 2, tensors=2)             # bf16 params, native
    {'exp_avg': 2000, 'exp_avg_sq': 2000, 'step': 8}
    >>> optimizer_state_bytes("adam", 1000, 2, precision="mixed")     # ZeRO: 4 + 4 + 4
    {'master_params': 4000, 'exp_avg': 4000, 'exp_avg_sq': 4000}
    >>> optimizer_state_bytes("sgd", 1000, 4)
    {}
    """
    kind = OptimizerKind(kind)
    precision = Precision(precision)
    moments = _MOMENTS[kind] + (("max_exp_avg_sq",) if amsgrad and kind in
                                (OptimizerKind.ADAM, OptimizerKind.ADAMW) else ())
    if precision is Precision.NATIVE:
        state = {name: numel * itemsize for name in moments}
        if kind in (OptimizerKind.ADAM, OptimizerKind.ADAMW):
            state["step"] = STEP_BYTES * tensors
        return state
    if kind is OptimizerKind.NONE:
        return {}
    state = {"master_params": numel * _FP32_BYTES}
    state.update({name: numel * _FP32_BYTES for name in moments})
    return state


def state_memory(parameters: Any, optimizer: Any = None, *,
                 precision: Precision | str = Precision.NATIVE, training: bool = True,
                 momentum: float | None = None, amsgrad: bool | None = None,
                 half_dtype: str = "bfloat16") -> StateMemory:
    """Weights, gradients and optimizer state of ``parameters`` (a module or an iterable).

    Args:
        parameters: an ``nn.Module`` (its parameters, shared ones once) or parameters.
        optimizer: ``None``, a name (``sgd``, ``sgd-momentum``, ``adam``, ``adamw``) or a
            ``torch.optim`` SGD/Adam/AdamW instance (its momentum and amsgrad are read).
        precision: ``native``, ``mixed`` (16 bytes/param with Adam) or ``mixed-fp32-grads``
            (Megatron's 18).
        training: ``False`` gives weights only (no gradients, no optimizer state).
        momentum: with ``optimizer="sgd"``, a non-zero momentum adds a momentum buffer.
        amsgrad: with Adam/AdamW names, keep ``max_exp_avg_sq`` too.
        half_dtype: the 16-bit dtype named for weights (and gradients) in the mixed regimes.

    Gradients and optimizer state exist for trainable parameters (``requires_grad``) only.

    >>> import torch
    >>> model = torch.nn.Linear(10, 10).to(torch.bfloat16)       # 110 bf16 params
    >>> s = state_memory(model, "sgd", momentum=0.9)
    >>> s.params_bytes, s.grads_bytes, s.optimizer_bytes
    (220, 220, 220)
    >>> state_memory(model, training=False).total_bytes
    220
    """
    kind, keep_max = _kind_of(optimizer, momentum, amsgrad)
    precision = Precision(precision)
    params = _unique_params(parameters)
    trainable = [p for p in params if p.requires_grad] if training else []
    weights: Counter[str] = Counter()
    grads: Counter[str] = Counter()
    state: Counter[str] = Counter()
    mixed = precision is not Precision.NATIVE
    for param in params:
        itemsize = _HALF_BYTES if mixed and param.is_floating_point() else param.element_size()
        weights[half_dtype if mixed and param.is_floating_point()
                else _dtype_name(param)] += param.numel() * itemsize
    for param in trainable:
        if precision is Precision.NATIVE:
            grads[_dtype_name(param)] += param.numel() * param.element_size()
        elif precision is Precision.MIXED:
            grads[half_dtype] += param.numel() * _HALF_BYTES
        else:
            grads["float32"] += param.numel() * _FP32_BYTES
        state.update(optimizer_state_bytes(kind, param.numel(), param.element_size(), 1,
                                           precision, keep_max))
    return StateMemory(
        optimizer=kind.value,
        precision=precision.value,
        params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in trainable),
        params_bytes=sum(weights.values()),
        grads_bytes=sum(grads.values()),
        optimizer_bytes=sum(state.values()),
        params_bytes_by_dtype=dict(weights),
        grads_bytes_by_dtype=dict(grads),
        optimizer_bytes_by_state={name: state[name] for name in state if state[name]},
    )


def measured_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, int]:
    """Bytes by state name that one step of ``optimizer`` allocates, measured on ``meta``.

    The optimizer's class is rebuilt with its hyper-parameters over meta copies of its
    parameters (each with a meta gradient) and stepped once; nothing of the real optimizer or
    its parameters is touched, nothing is allocated. Works for any ``torch.optim`` optimizer
    whose step runs on meta tensors.

    >>> import torch
    >>> params = [torch.nn.Parameter(torch.zeros(10, 10)), torch.nn.Parameter(torch.zeros(10))]
    >>> measured_optimizer_state(torch.optim.AdamW(params))       # 4·110 each, 2 float32 steps
    {'exp_avg': 440, 'exp_avg_sq': 440, 'step': 8}
    """
    import torch

    from flopwise.capture.shadow import shadow_optimizer as make_shadow

    shadow_optimizer = make_shadow(optimizer)
    with torch.no_grad():
        shadow_optimizer.step()
    totals: Counter[str] = Counter()
    seen: set[int] = set()
    for state in shadow_optimizer.state.values():
        for name, value in state.items():
            if isinstance(value, torch.Tensor) and id(value) not in seen:
                seen.add(id(value))
                totals[name] += value.numel() * value.element_size()
    return dict(sorted(totals.items()))
