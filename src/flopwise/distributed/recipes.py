"""Standard parallel recipes applied with torch's own APIs: FSDP2 per block, tensor parallel,
pipeline stages by layer, expert parallel.

These are the layouts the planner (:mod:`flopwise.llm.parallel`) times, applied to a real model
inside :func:`flopwise.distributed.simulate`, so the traced collectives can be set beside the
planner's: ``fully_shard`` on every decoder block and then the root (as torchtitan does), and
Megatron-style tensor parallelism with sequence parallelism through ``parallelize_module`` with
torchtitan's plan for Llama-family decoders (Llama, Mistral, Qwen2: the same module names);
pipeline stages (:mod:`flopwise.distributed.pipeline`) and expert parallelism for fused
mixture-of-experts layers (:mod:`flopwise.distributed.experts`).

Unsupported combinations raise one :class:`~flopwise.errors.UsageError` line.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flopwise.errors import UsageError

__all__ = ["RECIPES", "TP_FAMILIES", "parse_mesh", "parse_parallel", "apply_recipes",
           "parallel_world", "SimulatedJob"]

RECIPES: tuple[str, ...] = ("fsdp", "tp", "pp", "ep")
#: The mesh dimension each recipe uses by default.
DIMENSIONS: dict[str, str] = {"tp": "tp", "fsdp": "dp", "pp": "pp", "ep": "ep"}
#: Combinations that are refused, and why.
REFUSED: dict[frozenset[str], str] = {
    frozenset({"pp", "tp"}): "pp,tp is not simulated: a tensor-parallel stage boundary is a "
    "sequence-sharded DTensor that the stages do not pass on; use pp,fsdp, or time the layout "
    "with flopwise llm --tp --pp --step",
    frozenset({"ep", "tp"}): "ep,tp is not simulated: the tensor-parallel plan knows dense "
    "Llama-family decoders only; use ep or ep,fsdp",
}
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
    check_recipes(recipes)
    return recipes


def _blocks(model: Any) -> Any:
    """The decoder blocks of a Hugging Face causal LM: ``model.layers`` (Llama-style) or
    ``transformer.h`` (GPT-2-style), or None."""
    from torch.nn import ModuleList

    for body, blocks in (("model", "layers"), ("transformer", "h")):
        found = getattr(getattr(model, body, None), blocks, None)
        if isinstance(found, ModuleList):
            return found
    return None


def _decoder(model: Any) -> tuple[Any, Any]:
    """(the decoder with ``layers``, the model type) of a Hugging Face causal LM."""
    config = getattr(model, "config", None)
    body = getattr(model, "model", None)
    layers = getattr(body, "layers", None)
    if config is not None and config.model_type == "gpt2":
        raise UsageError(
            "no tensor-parallel plan for GPT-2: its Conv1D projections are not nn.Linear (torch's "
            "ColwiseParallel/RowwiseParallel shard nn.Linear) and its fused c_attn would give "
            "each rank a slice across q, k and v; use --parallel fsdp")
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

    blocks = _blocks(model)
    if blocks is None:
        raise UsageError(
            f"fsdp needs a Hugging Face decoder with model.layers (Llama, Mistral, Qwen2, ...) or "
            f"transformer.h (GPT-2), got {type(model).__name__}; apply your own fully_shard "
            "inside flopwise.distributed.simulate instead")
    for layer in blocks:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)


def check_recipes(recipes: Sequence[str]) -> None:
    """A :class:`~flopwise.errors.UsageError` for an unknown recipe or a refused combination."""
    for recipe in recipes:
        if recipe not in RECIPES:
            raise UsageError(f"unknown parallel recipe {recipe!r}; use {', '.join(RECIPES)}")
    for pair, why in REFUSED.items():
        if pair <= set(recipes):
            raise UsageError(why)


def apply_recipes(model: Any, mesh: Any, recipes: Sequence[str],
                  dims: Mapping[str, str] | None = None) -> Any:
    """Apply ``recipes`` (``fsdp``, ``tp``, ``ep``) to ``model`` on ``mesh``; returns the model.

    With a 1-D mesh the one dimension serves the recipe; with several, ``tp`` uses the mesh's
    ``tp`` dimension, ``fsdp`` its ``dp`` dimension and ``ep`` its ``ep`` one (``dims``
    renames them). Tensor and expert parallelism are applied first, then FSDP2, as torchtitan
    does. ``pp`` splits the model when it is counted (:class:`SimulatedJob`), and with ``pp``
    FSDP2 shards each stage there.
    """
    names = {**DIMENSIONS, **dict(dims or {})}
    check_recipes(recipes)
    if "tp" in recipes:
        _tensor_parallel(model, _sub_mesh(mesh, names["tp"]))
    if "ep" in recipes:
        from flopwise.distributed.experts import expert_parallel

        expert_parallel(model, _sub_mesh(mesh, names["ep"]))
    if "fsdp" in recipes and "pp" not in recipes:
        with _real_meshes() if {"tp", "ep"} & set(recipes) else contextlib.nullcontext():
            _fully_shard(model, _sub_mesh(mesh, names["fsdp"]))
    return model


def _real_meshes() -> contextlib.AbstractContextManager[Any]:
    """Tensors created inside are real, not fake (parameters already fake stay fake).

    FSDP2 shards a tensor-parallel parameter over a 2-D (dp, tp) mesh it builds on the spot,
    and a new ``DeviceMesh`` finds this rank's coordinates with ``nonzero`` on its rank tensor:
    a data-dependent op that fake tensors cannot run. Built outside the fake mode, that small
    integer tensor is real; the parameters FSDP2 shards were created fake and stay fake.
    """
    from torch._subclasses.fake_tensor import unset_fake_temporarily

    return unset_fake_temporarily()


@dataclass(frozen=True)
class SimulatedJob:
    """The recipes of one simulated job on its mesh: :meth:`prepare` a model built inside, then
    :meth:`count` it (one rank's step; with ``pp``, every stage and the schedule)."""

    mesh: Any
    recipes: tuple[str, ...]
    micro_batches: int | None = None
    timing: Any = None

    def prepare(self, model: Any) -> Any:
        return apply_recipes(model, self.mesh, self.recipes)

    def count(self, model: Any, args: Sequence[Any], kwargs: Mapping[str, Any],
              **options: Any) -> Any:
        """``flopwise.profile(model, args, kwargs, **options)``; with ``pp``
        :func:`~flopwise.distributed.pipeline.profile_pipeline` on the token ids."""
        import flopwise

        if "pp" not in self.recipes:
            return flopwise.profile(model, args, kwargs, **options)
        from flopwise.distributed.pipeline import profile_pipeline, shard_stage

        tokens = kwargs.get("input_ids", args[0] if args else None)
        if tokens is None or tokens.dim() != 2:
            raise UsageError("pp splits a decoder fed token ids of shape (batch, seq); give "
                             "--input BATCH,SEQ")
        shard = shard_stage(_sub_mesh(self.mesh, "dp")) if "fsdp" in self.recipes else None
        return profile_pipeline(model, tokens, _sub_mesh(self.mesh, "pp").size(),
                                self.micro_batches, shard=shard,
                                convention=options.get("convention", "standard"),
                                strict=options.get("strict", False), timing=self.timing,
                                name=options.get("name"))


@contextlib.contextmanager
def parallel_world(world: int, mesh: Mapping[str, int] | None, recipes: Sequence[str], *,
                   micro_batches: int | None = None, accelerator: Any = None,
                   compute_efficiency: float = 1.0, memory_efficiency: float = 1.0
                   ) -> Iterator[SimulatedJob]:
    """Simulate rank 0 of ``world`` ranks (:func:`flopwise.distributed.simulate`) and yield the
    :class:`SimulatedJob` that applies ``recipes`` to a model built inside and counts it.

    Without ``mesh`` one recipe gets a one-dimensional mesh named for it (``dp`` for fsdp);
    two need one. With ``pp`` and an ``accelerator`` the stages and the step are timed.
    """
    from flopwise.distributed.world import simulate

    check_recipes(recipes)
    if mesh is None:
        if len(recipes) > 1:
            raise UsageError(f"--parallel {','.join(recipes)} needs a mesh naming each dimension, "
                             f"e.g. --mesh {','.join(f'{DIMENSIONS[r]}=2' for r in recipes)}")
        mesh = {DIMENSIONS[recipes[0]]: world}
    timing = None
    if "pp" in recipes and accelerator is not None:
        from flopwise.distributed.pipeline import StageTiming

        timing = StageTiming(accelerator, dict(mesh), compute_efficiency, memory_efficiency)
    with simulate(world, mesh) as device_mesh:
        yield SimulatedJob(device_mesh, tuple(recipes), micro_batches, timing)
