"""Standard parallel recipes applied with torch's own APIs: FSDP2 per block, tensor parallel.

These are the layouts the planner (:mod:`flopwise.llm.parallel`) times, applied to a real model
inside :func:`flopwise.distributed.simulate`, so the traced collectives can be set beside the
planner's: ``fully_shard`` on every decoder block and then the root (as torchtitan does), and
Megatron-style tensor parallelism with sequence parallelism through ``parallelize_module`` with
torchtitan's plan for Llama-family decoders (Llama, Mistral, Qwen2: the same module names).

Unsupported combinations raise one :class:`~flopwise.errors.UsageError` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from flopwise.errors import UsageError

__all__ = ["RECIPES", "TP_FAMILIES", "parse_mesh", "parse_parallel", "apply_recipes",
           "parallel_world"]

RECIPES: tuple[str, ...] = ("fsdp", "tp")
#: Hugging Face model types whose decoder the tensor-parallel plan knows.
TP_FAMILIES: tuple[str, ...] = ("llama", "mistral", "qwen2")


def parse_mesh(text: str) -> dict[str, int]:
    """``"dp=8,tp=8"`` -> ``{"dp": 8, "tp": 8}`` (outermost first).

    >>> parse_mesh("dp=8,tp=8")
    {'dp': 8, 'tp': 8}
    """
    mesh: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name or not value.strip().isdigit() or int(value) < 1 or name in mesh:
            raise UsageError(f"--mesh {text!r} is not NAME=SIZE,...; e.g. --mesh dp=8,tp=8")
        mesh[name.strip()] = int(value)
    return mesh


def parse_parallel(text: str) -> tuple[str, ...]:
    """``"fsdp,tp"`` -> ``("fsdp", "tp")``; a UsageError for anything else.

    >>> parse_parallel("fsdp, tp")
    ('fsdp', 'tp')
    """
    recipes = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [r for r in recipes if r not in RECIPES]
    if not recipes or unknown:
        raise UsageError(f"--parallel {text!r}: use a comma-separated list of {', '.join(RECIPES)}")
    return recipes


def _decoder(model: Any) -> tuple[Any, Any]:
    """(the decoder with ``layers``, the model type) of a Hugging Face causal LM."""
    config = getattr(model, "config", None)
    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if config is None or layers is None:
        raise UsageError(
            f"the parallel recipes need a Hugging Face decoder with model.layers (Llama, Mistral, "
            f"Qwen2), got {type(model).__name__}; apply your own fully_shard/parallelize_module "
            "inside flopwise.distributed.simulate instead"
        )
    return body, config.model_type


def _sub_mesh(mesh: Any, name: str) -> Any:
    names = mesh.mesh_dim_names or ()
    if name in names:
        return mesh[name] if len(names) > 1 else mesh
    if len(names) == 1:
        return mesh
    raise UsageError(f"the mesh {dict(zip(names, mesh.mesh.shape))} has no {name!r} dimension; "
                     f"name one {name}, e.g. --mesh dp=8,{name}=8")


def _tensor_parallel(model: Any, mesh: Any) -> None:
    """torchtitan's Llama plan: vocabulary-parallel embedding into sequence-sharded activations,
    sequence-parallel norms, column/row-parallel attention and MLP, a column-parallel head."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        PrepareModuleInput,
        RowwiseParallel,
        SequenceParallel,
        parallelize_module,
    )

    body, model_type = _decoder(model)
    if model_type not in TP_FAMILIES:
        raise UsageError(f"no tensor-parallel plan for model type {model_type!r} (known: "
                         f"{', '.join(TP_FAMILIES)}); use --parallel fsdp, or your own plan")
    parallelize_module(model, mesh, {
        "model.embed_tokens": RowwiseParallel(input_layouts=Replicate(), output_layouts=Shard(1),
                                              use_local_output=False),
        "model.norm": SequenceParallel(),
        "lm_head": ColwiseParallel(input_layouts=Shard(1), output_layouts=Replicate()),
    })
    gather = PrepareModuleInput(input_kwarg_layouts={"hidden_states": Shard(1)},
                                desired_input_kwarg_layouts={"hidden_states": Replicate()})
    for layer in body.layers:
        parallelize_module(layer, mesh, {
            "input_layernorm": SequenceParallel(),
            "self_attn": gather,
            "self_attn.q_proj": ColwiseParallel(),
            "self_attn.k_proj": ColwiseParallel(),
            "self_attn.v_proj": ColwiseParallel(),
            "self_attn.o_proj": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
            "post_attention_layernorm": SequenceParallel(),
            "mlp": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),)),
            "mlp.gate_proj": ColwiseParallel(),
            "mlp.up_proj": ColwiseParallel(),
            "mlp.down_proj": RowwiseParallel(output_layouts=Shard(1), use_local_output=False),
        })


def _fully_shard(model: Any, mesh: Any) -> None:
    """FSDP2: every decoder block, then the root (embeddings, final norm, head)."""
    from torch.distributed.fsdp import fully_shard

    body, _ = _decoder(model)
    for layer in body.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)


def apply_recipes(model: Any, mesh: Any, recipes: Sequence[str],
                  dims: Mapping[str, str] | None = None) -> Any:
    """Apply ``recipes`` (``fsdp``, ``tp``) to ``model`` on ``mesh``; returns the model.

    With a 1-D mesh the one dimension serves the recipe; with several, ``tp`` uses the mesh's
    ``tp`` dimension and ``fsdp`` its ``dp`` dimension (``dims`` renames them). Tensor
    parallelism is applied first, as torchtitan does.
    """
    names = {"tp": "tp", "fsdp": "dp", **dict(dims or {})}
    for recipe in recipes:
        if recipe not in RECIPES:
            raise UsageError(f"unknown parallel recipe {recipe!r}; use {', '.join(RECIPES)}")
    if {"tp", "fsdp"} <= set(recipes) and _is_simulated():
        # NB: FSDP2's sharding of tensor-parallel parameters looks its rank up in the mesh with
        # a data-dependent op (nonzero), which fake tensors cannot run.
        raise UsageError("fsdp,tp cannot be simulated: FSDP2 shards tensor-parallel parameters "
                         "with a data-dependent op that fake tensors cannot run; simulate "
                         "--parallel fsdp and --parallel tp separately")
    if "tp" in recipes:
        _tensor_parallel(model, _sub_mesh(mesh, names["tp"]))
    if "fsdp" in recipes:
        _fully_shard(model, _sub_mesh(mesh, names["fsdp"]))
    return model


def _is_simulated() -> bool:
    """Whether a fake tensor mode is active (inside :func:`flopwise.distributed.simulate`)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    return any(isinstance(mode, FakeTensorMode) for mode in _get_current_dispatch_mode_stack())


@contextlib.contextmanager
def parallel_world(world: int, mesh: Mapping[str, int] | None,
                   recipes: Sequence[str]) -> Iterator[Callable[[Any], Any]]:
    """Simulate rank 0 of ``world`` ranks (:func:`flopwise.distributed.simulate`) and yield a
    function that applies ``recipes`` to a model built inside.

    Without ``mesh`` one recipe gets a one-dimensional mesh (``tp`` or ``dp``); two need one.
    """
    from flopwise.distributed.world import simulate

    if mesh is None:
        if len(recipes) > 1:
            raise UsageError(f"--parallel {','.join(recipes)} needs a mesh naming each dimension, "
                             f"e.g. --mesh dp={max(1, world // 8)},tp=8")
        mesh = {"tp" if recipes[0] == "tp" else "dp": world}
    with simulate(world, mesh) as device_mesh:
        yield lambda model: apply_recipes(model, device_mesh, recipes)
