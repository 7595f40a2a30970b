"""The Typer application and the small helpers every command shares.

Commands live one per module (``flopwise.cli.<command>``) and register themselves on ``app``.
No command module imports torch at import time: ``flopwise --help`` and ``flopwise llm`` must
start without it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from flopwise.errors import FlopwiseError, MissingExtraError

__all__ = ["app", "stdout", "stderr", "fail", "errors_to_exit", "write_output"]

app = typer.Typer(
    name="flopwise",
    help=(
        "What does this model cost? Parameters, MACs, FLOPs (under a named convention), bytes, "
        "memory and time for PyTorch models, and an analytical planner for transformers."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: the optional packages flopwise imports, and the extra that installs each
OPTIONAL_PACKAGES: dict[str, str] = {
    "torch": "torch", "torchvision": "vision", "transformers": "hf", "onnx": "onnx",
    "onnxruntime": "onnx", "keras": "keras", "matplotlib": "plot", "timm": "timm",
}

stdout = Console(soft_wrap=False)
stderr = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print one line on stderr and exit with ``code``."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn flopwise's own errors into one line on stderr and the error's exit code."""
    try:
        yield
    except FlopwiseError as error:
        fail(str(error), error.exit_code)
    except ModuleNotFoundError as error:
        # an optional dependency of flopwise itself (torch for every counting command):
        # name the extra instead of a traceback; any other missing module is not ours to explain
        package = (error.name or "").partition(".")[0]
        extra = OPTIONAL_PACKAGES.get(package)
        if extra is None:
            raise
        fail(str(MissingExtraError(package, extra, "this command")), MissingExtraError.exit_code)


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (a file) or to stdout; never both."""
    if output is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as error:
        fail(f"cannot write {output}: {error.strerror}; choose a writable path with -o", 1)
    stderr.print(f"wrote {output}", highlight=False)


@app.callback()
def _root() -> None:
    """What does this model cost? Run `flopwise COMMAND --help` for each command."""
