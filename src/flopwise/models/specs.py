"""Parsing what the user types about inputs: shapes, dtypes, keyword inputs, devices.

>>> parse_shape("1,3,224,224")
(1, 3, 224, 224)
>>> parse_kwarg("attention_mask=1,16:int64")
('attention_mask', TensorRequest(shape=(1, 16), dtype='int64', high=None))
>>> parse_dtype("bf16")
'bfloat16'
>>> close_names("gtp2", ["gpt2", "bert"])
' (did you mean gpt2?)'
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from flopwise.errors import UsageError

__all__ = ["TensorRequest", "DTYPES", "DEVICES", "FLOAT_DTYPES", "parse_shape", "parse_dtype",
           "parse_kwarg", "check_device", "close_names"]

DEVICES = ("meta", "cpu", "cuda")

# accepted spellings -> torch dtype name
DTYPES: dict[str, str] = {
    "float32": "float32", "float": "float32", "fp32": "float32",
    "float16": "float16", "half": "float16", "fp16": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16",
    "float64": "float64", "double": "float64", "fp64": "float64",
    "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32",
    "int16": "int16", "int8": "int8", "uint8": "uint8", "bool": "bool",
}
FLOAT_DTYPES = frozenset({"float32", "float16", "bfloat16", "float64"})
_SHAPE = re.compile(r"^\s*\d+\s*([,x]\s*\d+\s*)*$")


@dataclass(frozen=True)
class TensorRequest:
    """An input to build: its shape and dtype name (``None``: the model kind's default).

    ``high`` bounds the values of an integer input on a real device (``0 <= value < high``;
    ``None``: the model's vocabulary); meta tensors have no values. ``values`` (row-major)
    fixes the contents of a small layout input (an image's patch grid); such an input is made
    on the CPU even for a meta run, since the model's code reads it.
    """

    shape: tuple[int, ...]
    dtype: str | None = None
    high: int | None = None
    values: tuple[int, ...] | None = field(default=None, repr=False)


def parse_shape(text: str) -> tuple[int, ...]:
    """``"1,3,224,224"`` (or ``"1x3x224x224"``) → ``(1, 3, 224, 224)``; positive ints only."""
    if not _SHAPE.match(text):
        raise UsageError(
            f"malformed shape {text!r}: expected positive integers separated by commas, "
            "such as 1,3,224,224"
        )
    shape = tuple(int(part) for part in re.split(r"[,x]", text))
    if any(size < 1 for size in shape):
        raise UsageError(f"malformed shape {text!r}: every dimension must be at least 1")
    return shape


def parse_dtype(name: str) -> str:
    """A dtype name or alias (``bf16``, ``fp32``, ``long``) → the torch name (``bfloat16``)."""
    dtype = DTYPES.get(name.strip().lower())
    if dtype is None:
        close = difflib.get_close_matches(name.lower(), DTYPES, n=2)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise UsageError(f"unknown dtype {name!r}; {hint}choose from: "
                         f"{', '.join(sorted(set(DTYPES.values())))}")
    return dtype


def parse_kwarg(text: str) -> tuple[str, TensorRequest]:
    """``"name=SHAPE"`` or ``"name=SHAPE:DTYPE"`` → ``(name, TensorRequest)``."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise UsageError(f"malformed --kwarg {text!r}: expected NAME=SHAPE[:DTYPE], such as "
                         "attention_mask=1,128:int64")
    shape, _, dtype = rest.partition(":")
    return name.strip(), TensorRequest(parse_shape(shape), parse_dtype(dtype) if dtype else None)


def check_device(device: str) -> str:
    """``meta``, ``cpu``, ``cuda`` or ``cuda:N``; CUDA must be visible to torch."""
    import torch

    kind, _, index = device.partition(":")
    if kind not in DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise UsageError(f"unknown device {device!r}; choose meta, cpu, cuda or cuda:N")
    if kind == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda but torch sees no CUDA device; use --device meta or cpu")
    return device


def close_names(name: str, names: Sequence[str]) -> str:
    """A ``" (did you mean ...?)"`` hint for a misspelt name, or ``""``."""
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""
