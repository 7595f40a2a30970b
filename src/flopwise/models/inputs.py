"""Building the tensors a loaded model is run with: the user's requests or the model's defaults."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from flopwise.errors import UsageError
from flopwise.models.loaded import LoadedModel
from flopwise.models.specs import FLOAT_DTYPES, TensorRequest

if TYPE_CHECKING:
    import torch

__all__ = ["make_inputs", "input_notes"]


def _tensor(request: TensorRequest, dtype: str, device: str, vocab_size: int | None,
            name: str) -> torch.Tensor:
    import torch

    torch_dtype = getattr(torch, dtype)
    if request.values is not None:           # read by the model's code: real even on meta
        value = torch.tensor(request.values, dtype=torch_dtype).reshape(request.shape)
        return value if device == "meta" else value.to(device)
    if device == "meta":
        return torch.empty(request.shape, dtype=torch_dtype, device="meta")
    generator = torch.Generator().manual_seed(0)
    high = request.high or vocab_size
    if dtype in FLOAT_DTYPES:
        value = torch.randn(request.shape, generator=generator, dtype=torch_dtype)
    elif "mask" in name or dtype == "bool":
        value = torch.ones(request.shape, dtype=torch_dtype)
    elif high:
        value = torch.randint(0, high, request.shape, generator=generator, dtype=torch_dtype)
    else:
        value = torch.zeros(request.shape, dtype=torch_dtype)
    return value.to(device)


def _default_dtype(loaded: LoadedModel, name: str) -> str:
    if loaded.source == "hf" and ((name == "" and loaded.token_inputs)
                                  or name.endswith("_ids") or "mask" in name or name == "bbox"):
        return "int64"
    for param in loaded.model.parameters():
        if param.is_floating_point():
            return str(param.dtype).removeprefix("torch.")
    return "float32"


def _keyword_defaults(loaded: LoadedModel, inputs: Sequence[TensorRequest],
                      given: Mapping[str, TensorRequest]) -> dict[str, TensorRequest]:
    made = {name: request for name, request in loaded.default_kwargs.items() if name not in given}
    for name, trailing in loaded.follow_kwargs.items():
        if inputs and name not in given:
            made[name] = TensorRequest((*inputs[0].shape, *trailing),
                                       "int64" if name == "bbox" else None,
                                       high=1 if name == "bbox" else None)
    return made


def make_inputs(loaded: LoadedModel, inputs: Sequence[TensorRequest] = (),
                kwargs: Mapping[str, TensorRequest] | None = None,
                device: str = "meta") -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword inputs for ``loaded.model`` on ``device``.

    Without positional requests, a factory's example inputs are used (keyword requests add to
    or replace its example keywords), else the model's default shapes, unless a keyword request
    stands in for them (``input_ids``/``inputs_embeds`` for hf). The model's default keyword
    inputs (an hf model's images, boxes, decoder tokens) are added unless a keyword request
    names them. With nothing at all to go on, :class:`~flopwise.UsageError` asks for
    ``--input``. Dtypes default to int64 token ids (hf) or the model's floating dtype.
    """
    keyword_requests = dict(kwargs or {})

    def build(request: TensorRequest, name: str) -> torch.Tensor:
        dtype = request.dtype or _default_dtype(loaded, name)
        return _tensor(request, dtype, device, loaded.vocab_size, name)

    if not inputs and loaded.example_args is not None:
        built = {name: build(request, name) for name, request in keyword_requests.items()}
        return loaded.example_args, {**loaded.example_kwargs, **built}
    if not inputs and not set(loaded.replacing_kwargs) & set(keyword_requests):
        if not loaded.default_shapes and not keyword_requests:
            if loaded.default_note:                 # why none can be made, and what to pass
                raise UsageError(f"{loaded.spec} has no default input: {loaded.default_note}")
            raise UsageError(f"{loaded.spec} has no default input shape; pass --input SHAPE "
                             "(repeat it for several positional inputs)")
        inputs = [TensorRequest(shape) for shape in loaded.default_shapes]
    keyword_requests = {**_keyword_defaults(loaded, inputs, keyword_requests), **keyword_requests}
    args: tuple[Any, ...] = tuple(build(request, "") for request in inputs)
    if loaded.list_inputs:
        args = tuple([tensor] for tensor in args)
    return args, {name: build(request, name) for name, request in keyword_requests.items()}


def input_notes(loaded: LoadedModel, inputs: Sequence[TensorRequest] = (),
                kwargs: Mapping[str, TensorRequest] | None = None) -> list[str]:
    """One line per input an hf model's defaults made from its config and forward (the user's
    own requests, and the fixed defaults of other sources, need none)."""
    if loaded.source != "hf":
        return []
    given = dict(kwargs or {})
    notes: list[str] = []
    if (not inputs and loaded.default_note and loaded.default_shapes
            and not set(loaded.replacing_kwargs) & set(given)):
        notes.append(f"input: {loaded.default_note}")
    notes.extend(note for note in loaded.notes if note.partition(":")[0] not in given)
    return notes
