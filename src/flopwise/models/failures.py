"""Explaining a model that failed: which module rejected which inputs, in one line."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flopwise.errors import first_line
from flopwise.models.hf_defaults import default_config_fault

if TYPE_CHECKING:
    import torch

__all__ = ["CallTrace", "describe_failure"]

_MISSING = re.compile(r"missing \d+ required (positional |keyword-only )?argument")


class CallTrace:
    """Which modules were running when a forward raised, for the CLI's one-line message.

    A context manager holding global forward pre-hooks and (non-``always_call``) forward hooks:
    modules that return pop themselves, so after an exception the stack still holds the chain
    of modules the exception came through, innermost last. Hooks are removed on exit.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 3))
    >>> with CallTrace(model) as trace:
    ...     try:
    ...         model(torch.randn(2, 5))
    ...     except RuntimeError:
    ...         pass
    >>> trace.innermost
    ('0', 'Linear', ((2, 5),))
    """

    def __init__(self, model: torch.nn.Module) -> None:
        self._names = {id(module): (name, type(module).__name__)
                       for name, module in model.named_modules()}
        self._stack: list[tuple[str, str, tuple[tuple[int, ...], ...]]] = []
        self._handles: list[Any] = []

    def __enter__(self) -> CallTrace:
        from torch.nn.modules import module

        self._handles = [module.register_module_forward_pre_hook(self._pre),
                         module.register_module_forward_hook(self._post)]
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _pre(self, module: torch.nn.Module, args: Any) -> None:
        from torch.utils._pytree import tree_leaves

        known = self._names.get(id(module))
        if known is not None:
            shapes = tuple(tuple(leaf.shape) for leaf in tree_leaves(args)
                           if hasattr(leaf, "shape") and hasattr(leaf, "dtype"))
            self._stack.append((*known, shapes))

    def _post(self, module: torch.nn.Module, args: Any, output: Any) -> None:
        known = self._names.get(id(module))
        if known is None:
            return
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == known[0]:
                del self._stack[index:]
                return

    @property
    def innermost(self) -> tuple[str, str, tuple[tuple[int, ...], ...]] | None:
        """``(name, type, input shapes)`` of the innermost module still running, if any."""
        return self._stack[-1] if self._stack else None


def describe_failure(error: BaseException, trace: CallTrace, device: str, spec: str = "") -> str:
    """One line: which module rejected which input shapes, and the error's first line; for an
    ``hf:TYPE`` whose default config is known not to run (:mod:`flopwise.models.hf_defaults`),
    the field its config.json must set."""
    fault = default_config_fault(spec, error)
    if fault:
        return fault
    reason = first_line(error)
    where = trace.innermost
    if where is None:
        text = f"the model failed outside any module's forward: {reason}"
    else:
        name, kind, shapes = where
        who = f"module {name!r} ({kind})" if name else f"the model ({kind})"
        text = f"{who} rejected inputs of shapes {[list(s) for s in shapes]}: {reason}"
    if device == "meta" and "meta" in reason.lower():
        text += "; the model needs real values here, try --device cpu"
    elif re.search(r"bfloat16|float16", reason, re.IGNORECASE) and "float32" in reason.lower():
        # e.g. grouped GEMM kernels (transformers' MoE experts) take half precision only
        text += "; this kernel wants half precision, try --model-dtype bfloat16"
    elif isinstance(error, TypeError) and _MISSING.search(reason):
        # the forward wants inputs no default makes (e.g. prompts only a processor builds)
        text += ("; pass each with --kwarg NAME=SHAPE[:DTYPE], or write a factory file "
                 "(path/to/file.py:factory) returning the model and its inputs")
    return text
