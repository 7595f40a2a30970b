"""The ``flopwise`` command: one Typer app, one module per command."""

from __future__ import annotations

from flopwise.cli import bench_device as _bench_device  # noqa: F401, E402
from flopwise.cli import check as _check  # noqa: F401, E402
from flopwise.cli import compare as _compare  # noqa: F401, E402
from flopwise.cli import diff as _diff  # noqa: F401, E402
from flopwise.cli import explain as _explain  # noqa: F401, E402
from flopwise.cli import hardware as _hardware  # noqa: F401, E402
from flopwise.cli import llm as _llm  # noqa: F401, E402
from flopwise.cli import ops as _ops  # noqa: F401, E402

# Each import registers one command on ``app``, in the order `flopwise --help` lists them.
from flopwise.cli import profile as _profile  # noqa: F401, E402
from flopwise.cli import version as _version  # noqa: F401, E402
from flopwise.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``flopwise`` console script and ``python -m flopwise``."""
    app(prog_name="flopwise")
