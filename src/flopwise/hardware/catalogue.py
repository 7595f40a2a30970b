"""The accelerator catalogue: peaks, memory and bandwidth per device, each with its source.

The numbers live in a data file (``catalogue.json`` beside this module), never in code. A
*hardware profile* written by ``flopwise bench-device`` has the same fields as one catalogue
entry, so both load into the same :class:`Accelerator` record.

>>> h100 = get_accelerator("h100-sxm")
>>> h100.peak_for("bfloat16")          # dense, FLOP/s
989400000000000.0
>>> h100.bandwidth_bytes_per_s
3350000000000.0
>>> get_accelerator("H100 SXM").id     # case, spaces and underscores are forgiven
'h100-sxm'

This module never imports torch: the LLM planner uses it on machines without torch.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError

__all__ = [
    "PRECISIONS",
    "CATALOGUE_SCHEMA",
    "PROFILE_SCHEMA",
    "Accelerator",
    "precision_of",
    "load_catalogue",
    "catalogue_ids",
    "get_accelerator",
    "load_profile",
    "accelerator_from_dict",
]

#: Precision keys of :attr:`Accelerator.peak_flops`, widest first. ``int8`` is in OP/s.
PRECISIONS: tuple[str, ...] = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8")

CATALOGUE_SCHEMA = "flopwise.hardware-catalogue/1"
PROFILE_SCHEMA = "flopwise.hardware-profile/1"

# torch dtype name (without the "torch." prefix) -> precision key of the peak table.
_DTYPE_PRECISION: dict[str, str] = {
    "float64": "fp64",
    "double": "fp64",
    "float32": "fp32",
    "float": "fp32",
    "bfloat16": "bf16",
    "float16": "fp16",
    "half": "fp16",
    "float8_e4m3fn": "fp8",
    "float8_e4m3fnuz": "fp8",
    "float8_e5m2": "fp8",
    "float8_e5m2fnuz": "fp8",
    "int8": "int8",
    "uint8": "int8",
    **{precision: precision for precision in PRECISIONS},
}

_REQUIRED_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "peak_flops",
    "memory_bytes",
    "bandwidth_bytes_per_s",
    "source",
)


def precision_of(dtype_name: str) -> str | None:
    """The peak-table key for a torch dtype name, or ``None`` when no peak applies to it.

    Accepts ``'float32'``, ``'torch.bfloat16'``, aliases (``'half'``, ``'double'``) and the
    precision keys themselves (``'bf16'``). Index and boolean dtypes (``int64``, ``bool``) have
    no FLOP peak and give ``None``.

    >>> precision_of("torch.float8_e4m3fn")
    'fp8'
    >>> precision_of("int64") is None
    True
    """
    name = dtype_name.strip().lower()
    if name.startswith("torch."):
        name = name[len("torch."):]
    return _DTYPE_PRECISION.get(name)


@dataclass(frozen=True)
class Accelerator:
    """One device: dense peak throughput per precision, memory capacity and bandwidth.

    ``peak_flops`` maps a precision key from :data:`PRECISIONS` to dense FLOP/s (OP/s for
    ``int8``); a precision the device does not support is absent, never zero. ``fp64`` is the
    vector (non-tensor-core) figure; ``fp64_tensor_flops_per_s`` is the FP64 tensor/matrix-core
    figure where the device has one. ``memory_bytes`` is exact bytes (a vendor's "80 GB" is
    80·10⁹; TPU v4's "32 GiB" is 32·2³⁰). ``source`` says where the row comes from.

    >>> a100 = get_accelerator("a100-80gb")
    >>> a100.peak_for("float32"), a100.peak_for("float32", allow_tf32=True)
    (19500000000000.0, 156000000000000.0)
    >>> a100.memory_bytes
    80000000000
    """

    id: str
    name: str
    peak_flops: Mapping[str, float] = field(hash=False)
    memory_bytes: int
    bandwidth_bytes_per_s: float
    source: str
    vendor: str = ""
    kind: str = ""
    memory_type: str = ""
    fp64_tensor_flops_per_s: float | None = None
    notes: str = ""

    def find_peak(
        self, dtype_name: str, *, allow_tf32: bool = False, fp64_tensor: bool = False
    ) -> float | None:
        """The dense peak for ``dtype_name`` in FLOP/s, or ``None`` where none is defined.

        ``allow_tf32`` uses the TF32 tensor-core peak for ``float32`` (what
        ``torch.backends.cuda.matmul.allow_tf32`` enables); ``fp64_tensor`` uses the FP64
        tensor/matrix-core figure for ``float64``. Either falls back to the plain figure
        where the device has no such units.

        >>> get_accelerator("tpu-v4").find_peak("float32") is None
        True
        """
        precision = precision_of(dtype_name)
        if precision is None:
            return None
        if precision == "fp32" and allow_tf32 and "tf32" in self.peak_flops:
            return self.peak_flops["tf32"]
        if precision == "fp64" and fp64_tensor and self.fp64_tensor_flops_per_s is not None:
            return self.fp64_tensor_flops_per_s
        return self.peak_flops.get(precision)

    def peak_for(
        self, dtype_name: str, *, allow_tf32: bool = False, fp64_tensor: bool = False
    ) -> float:
        """The dense peak for a torch dtype name in FLOP/s; raises where none is defined.

        >>> get_accelerator("h100-sxm").peak_for("float8_e4m3fn")
        1978900000000000.0

        Raises :class:`~flopwise.errors.UsageError` for a dtype with no FLOP peak
        (``int64``, ``bool``) or one this device does not support (``bfloat16`` on a V100).
        """
        peak = self.find_peak(dtype_name, allow_tf32=allow_tf32, fp64_tensor=fp64_tensor)
        if peak is not None:
            return peak
        precision = precision_of(dtype_name)
        defined = ", ".join(p for p in PRECISIONS if p in self.peak_flops) or "none"
        if precision is None:
            known = ", ".join(sorted(k for k in _DTYPE_PRECISION if k not in PRECISIONS))
            raise UsageError(
                f"no peak FLOP/s for dtype {dtype_name!r}: it is not a floating-point or int8 "
                f"compute type; use one of {known}"
            )
        raise UsageError(
            f"{self.id} has no {precision} peak (dtype {dtype_name!r}); it defines {defined}; "
            "pick another dtype or another --hardware"
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as plain JSON-ready values, in the catalogue file's field order."""
        return {
            "id": self.id,
            "name": self.name,
            "vendor": self.vendor,
            "kind": self.kind,
            "peak_flops": {p: self.peak_flops[p] for p in PRECISIONS if p in self.peak_flops},
            "fp64_tensor_flops_per_s": self.fp64_tensor_flops_per_s,
            "memory_bytes": self.memory_bytes,
            "memory_type": self.memory_type,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "source": self.source,
            "notes": self.notes,
        }


def _positive_number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


def accelerator_from_dict(data: Any, origin: str) -> Accelerator:
    """Validate one entry (a catalogue row or a profile file) and build its record.

    ``origin`` names where the data came from, for the error message. Every problem raises
    :class:`~flopwise.errors.UsageError` with one line naming the field.

    >>> accelerator_from_dict({"id": "x"}, "my.json")
    Traceback (most recent call last):
    ...
    flopwise.errors.UsageError: my.json: missing field 'name'; a hardware profile needs id, name, peak_flops, memory_bytes, bandwidth_bytes_per_s, source (regenerate it with flopwise bench-device)
    """
    fix = "regenerate it with flopwise bench-device"
    if not isinstance(data, dict):
        raise UsageError(f"{origin}: expected a JSON object, got {type(data).__name__}; {fix}")
    for name in _REQUIRED_FIELDS:
        if name not in data:
            raise UsageError(
                f"{origin}: missing field {name!r}; a hardware profile needs "
                f"{', '.join(_REQUIRED_FIELDS)} ({fix})"
            )

    def bad(name: str, why: str) -> UsageError:
        return UsageError(f"{origin}: field {name!r} {why}; {fix}")

    for name in ("id", "name", "source"):
        if not isinstance(data[name], str) or not data[name].strip():
            raise bad(name, "must be a non-empty string")
    peaks = data["peak_flops"]
    if not isinstance(peaks, dict) or not peaks:
        raise bad("peak_flops", "must be a non-empty object of precision -> FLOP/s")
    for precision, value in peaks.items():
        if precision not in PRECISIONS:
            raise bad("peak_flops", f"has unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
        if not _positive_number(value):
            raise bad("peak_flops", f"has a non-positive or non-numeric {precision} value {value!r}")
    memory = data["memory_bytes"]
    if not isinstance(memory, int) or isinstance(memory, bool) or memory <= 0:
        raise bad("memory_bytes", f"must be a positive integer number of bytes, got {memory!r}")
    if not _positive_number(data["bandwidth_bytes_per_s"]):
        raise bad("bandwidth_bytes_per_s",
                  f"must be a positive number, got {data['bandwidth_bytes_per_s']!r}")
    fp64_tensor = data.get("fp64_tensor_flops_per_s")
    if fp64_tensor is not None and not _positive_number(fp64_tensor):
        raise bad("fp64_tensor_flops_per_s", f"must be a positive number or null, got {fp64_tensor!r}")
    for name in ("vendor", "kind", "memory_type", "notes"):
        if not isinstance(data.get(name, ""), str):
            raise bad(name, "must be a string")
    return Accelerator(
        id=data["id"].strip().lower(),
        name=data["name"],
        peak_flops={p: float(peaks[p]) for p in PRECISIONS if p in peaks},
        memory_bytes=memory,
        bandwidth_bytes_per_s=float(data["bandwidth_bytes_per_s"]),
        source=data["source"],
        vendor=data.get("vendor", ""),
        kind=data.get("kind", ""),
        memory_type=data.get("memory_type", ""),
        fp64_tensor_flops_per_s=None if fp64_tensor is None else float(fp64_tensor),
        notes=data.get("notes", ""),
    )


@lru_cache(maxsize=1)
def load_catalogue() -> tuple[Accelerator, ...]:
    """Every catalogue entry, in the data file's order (loaded once, then cached).

    >>> [a.id for a in load_catalogue()][:3]
    ['v100-sxm2', 'a100-40gb', 'a100-80gb']
    """
    text = resources.files("flopwise.hardware").joinpath("catalogue.json").read_text("utf-8")
    data = json.loads(text)
    entries = tuple(
        accelerator_from_dict(row, f"catalogue.json entry {index}")
        for index, row in enumerate(data["accelerators"])
    )
    ids = [entry.id for entry in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise UsageError(f"catalogue.json: duplicate ids {', '.join(duplicates)}; ids must be unique")
    return entries


def catalogue_ids() -> tuple[str, ...]:
    """The ids of every catalogue entry: ``('v100-sxm2', 'a100-40gb', ...)``."""
    return tuple(entry.id for entry in load_catalogue())


def load_profile(path: str | Path) -> Accelerator:
    """Load a hardware-profile JSON file (as written by ``flopwise bench-device``).

    Raises :class:`~flopwise.errors.UsageError` (one line) when the file is missing, is not
    JSON, or lacks a field.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"hardware profile {file} not found; pass a catalogue name (see flopwise hardware) "
            "or a file written by flopwise bench-device"
        ) from None
    except OSError as error:
        raise UsageError(f"cannot read hardware profile {file}: {error.strerror}; check the path") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"hardware profile {file} is not valid JSON ({error.msg} at line {error.lineno}); "
            "regenerate it with flopwise bench-device"
        ) from None
    return accelerator_from_dict(data, str(file))


def _normalise(name: str) -> str:
    return "-".join(name.strip().lower().replace("_", " ").split())


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith(".json") or "/" in text or "\\" in text or Path(text).is_file()


def get_accelerator(name_or_path: str | Path) -> Accelerator:
    """A catalogue entry by id, or a hardware profile by path.

    Ids are matched case-insensitively, with spaces and underscores read as hyphens. A value
    ending in ``.json``, containing a path separator, or naming an existing file is read as a
    profile (:func:`load_profile`).

    >>> get_accelerator("MI300X").name
    'AMD Instinct MI300X 192GB'
    >>> get_accelerator("h100")
    Traceback (most recent call last):
    ...
    flopwise.errors.UsageError: unknown hardware 'h100'; close matches: h100-sxm, h100-pcie; run flopwise hardware for all 17 entries, or pass a profile .json from flopwise bench-device
    """
    if isinstance(name_or_path, Path) or _looks_like_path(name_or_path):
        return load_profile(name_or_path)
    key = _normalise(name_or_path)
    catalogue = load_catalogue()
    for entry in catalogue:
        if entry.id == key:
            return entry
    ids = [entry.id for entry in catalogue]
    # ids containing what was typed ("h100" -> h100-sxm, h100-pcie) beat spelling neighbours
    matches = [i for i in ids if key and key in i][:5] or difflib.get_close_matches(key, ids, n=5, cutoff=0.5)
    hint = f"close matches: {', '.join(matches)}" if matches else "no close match"
    raise UsageError(
        f"unknown hardware {name_or_path!r}; {hint}; run flopwise hardware for all "
        f"{len(ids)} entries, or pass a profile .json from flopwise bench-device"
    )
