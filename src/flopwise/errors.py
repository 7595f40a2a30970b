"""The library's exceptions: one base class and a few kinds.

Every message says what failed, why, and what fixes it, on one line. The CLI maps these (and only
these) to exit codes; exceptions raised by the user's own model propagate unchanged.
"""

from __future__ import annotations

__all__ = [
    "FlopwiseError",
    "UsageError",
    "ModelLoadError",
    "ModelRunError",
    "MissingExtraError",
    "UnsupportedOpsError",
    "ConfigError",
    "first_line",
]


def first_line(error: BaseException) -> str:
    r"""The error's type and the first line of its message, for a one-line explanation.

    >>> first_line(ValueError("bad shape.\nmore detail"))
    'ValueError: bad shape'
    >>> first_line(KeyError())
    'KeyError'
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0].rstrip('.')}" if lines else type(error).__name__


class FlopwiseError(Exception):
    """Base class of every error flopwise raises on its own account."""

    exit_code: int = 1


class UsageError(FlopwiseError):
    """Bad arguments: a malformed shape, an unknown name, conflicting options."""

    exit_code = 2


class ModelLoadError(FlopwiseError):
    """A model spec could not be resolved or built (unknown name, bad factory)."""

    exit_code = 1


class ModelRunError(FlopwiseError):
    """The model rejected the inputs flopwise built for it (CLI only; the API re-raises)."""

    exit_code = 1


class MissingExtraError(FlopwiseError):
    """An optional dependency is not installed; the message names the extra to install."""

    exit_code = 1

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the package '{package}', which is not installed; "
            f"install it with: pip install 'flopwise[{extra}]'"
        )
        self.package = package
        self.extra = extra


class UnsupportedOpsError(FlopwiseError):
    """Strict mode found operators with no formula."""

    exit_code = 3

    def __init__(self, ops: dict[str, int]) -> None:
        listed = ", ".join(f"{name} ×{count}" for name, count in sorted(ops.items()))
        super().__init__(
            f"strict mode: {len(ops)} operator(s) have no cost formula ({listed}); "
            "give each a formula on a copy of the registry (registry = "
            "flopwise.default_registry(); @registry.register(OP, family=...) def cost(...); "
            "flopwise.profile(..., registry=registry); see docs/formulas.md, 'Your own ops') "
            "or drop strict=True / --strict"
        )
        self.ops = dict(ops)


class ConfigError(FlopwiseError):
    """A model config (e.g. a transformers config.json) is malformed or incomplete."""

    exit_code = 2


class NotPolynomialError(FlopwiseError):
    """A cost is not a polynomial of the asked dimensions (``flopwise.scaling``)."""

    exit_code = 1
