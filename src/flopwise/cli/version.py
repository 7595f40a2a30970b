"""``flopwise version``: the installed version of flopwise (and of torch, when installed)."""

from __future__ import annotations

import importlib.metadata

from flopwise._version import __version__
from flopwise.cli.app import app, stdout


@app.command("version")
def version_command() -> None:
    """Print the versions of flopwise and of the packages it reads (torch, transformers, ...)."""
    stdout.print(f"flopwise {__version__}", highlight=False)
    for package in ("torch", "torchvision", "transformers", "onnx"):
        try:
            stdout.print(f"{package} {importlib.metadata.version(package)}", highlight=False)
        except importlib.metadata.PackageNotFoundError:
            stdout.print(f"{package} (not installed)", highlight=False)
