"""The format registry: every ``--format`` choice of every command, and what renders it.

Each command that prints a result has a table ``name -> Format``: the renderer (``"module:
function"``, imported only when used, so ``--help`` and the torch-free commands stay light),
the media type, whether it needs ``--output FILE``, and a short help phrase. The CLI builds
each command's ``--format`` choices (:func:`format_choices`) and help (:func:`format_help`)
from these tables, and renders through :func:`render`.

A renderer takes the command's subject first (a report, a report diff, compare rows, LLM plans,
registry entries, accelerators) and, by name, whichever of the command's options it uses
(``columns``, ``max_depth``, ``ops``, ``top``, ``sweep_key``, ...); it returns text, or a rich
renderable that the command prints (on a terminal, or without colour to a file).

Adding a format is one renderer function (in a new module, or next to its siblings) and one
line in :data:`FORMATS`.

>>> list(FORMATS["diff"])
['table', 'json', 'md']
>>> format_help("diff")
'table (aligned text), json (machine-readable) or md (Markdown tables).'
>>> format_choices("diff")
typing.Literal['table', 'json', 'md']
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, Literal

from flopwise.errors import UsageError

__all__ = ["FORMATS", "Format", "format_choices", "format_help", "render", "renderer"]


@dataclass(frozen=True)
class Format:
    """One output format of one command."""

    name: str
    render: str
    media_type: str
    help: str
    needs_file: bool = False


def _formats(*formats: Format) -> dict[str, Format]:
    return {f.name: f for f in formats}


_TEXT, _JSON, _MD, _HTML = "text/plain", "application/json", "text/markdown", "text/html"

#: Every command's formats, in the order ``--help`` lists them (the first is the default).
FORMATS: dict[str, dict[str, Format]] = {
    "profile": _formats(
        Format("table", "flopwise.render.table:render_text", _TEXT, "a module table"),
        Format("tree", "flopwise.render.tree:render_tree", _TEXT, "the module tree"),
        Format("json", "flopwise.report:Report.to_json", _JSON,
               "the saved form, for diff, check and html"),
        Format("csv", "flopwise.render.csv:render_csv", "text/csv", "one row per module"),
        Format("md", "flopwise.render.markdown:render_markdown", _MD, "Markdown"),
        Format("html", "flopwise.render.html:render_html", _HTML,
               "one self-contained page; use with -o"),
    ),
    "diff": _formats(
        Format("table", "flopwise.render.diff:render_diff_text", _TEXT, "aligned text"),
        Format("json", "flopwise.render.diff:render_diff_json", _JSON, "machine-readable"),
        Format("md", "flopwise.render.diff:render_diff_markdown", _MD, "Markdown tables"),
    ),
    "compare": _formats(
        Format("table", "flopwise.cli.compare:compare_text", _TEXT, "aligned text"),
        Format("json", "flopwise.cli.compare:compare_json", _JSON, "machine-readable"),
        Format("md", "flopwise.cli.compare:compare_markdown", _MD, "a Markdown table"),
    ),
    "llm": _formats(
        Format("table", "flopwise.llm.render:render_table", _TEXT, "tables"),
        Format("json", "flopwise.llm.render:render_json", _JSON, "machine-readable"),
        Format("md", "flopwise.llm.render:render_markdown", _MD, "Markdown tables"),
    ),
    "ops": _formats(
        Format("table", "flopwise.cli.ops:registry_table", _TEXT, "a table"),
        Format("json", "flopwise.cli.ops:registry_json", _JSON, "machine-readable"),
    ),
    "hardware": _formats(
        Format("table", "flopwise.cli.hardware:hardware_table", _TEXT, "a table"),
        Format("json", "flopwise.cli.hardware:hardware_json", _JSON, "machine-readable"),
    ),
}


def _table(command: str) -> dict[str, Format]:
    if command not in FORMATS:
        raise UsageError(f"no formats are registered for {command!r}; known commands: "
                         f"{', '.join(sorted(FORMATS))}")
    return FORMATS[command]


@cache
def format_choices(command: str) -> Any:
    """``Literal[...]`` of ``command``'s format names: the type of its ``--format`` option."""
    return Literal[tuple(_table(command))]


def format_help(command: str) -> str:
    """``command``'s ``--format`` help: every format with its phrase."""
    parts = [f"{f.name} ({f.help}{', needs -o FILE' if f.needs_file else ''})"
             for f in _table(command).values()]
    return (", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]) + "."


def renderer(command: str, name: str | Enum) -> Callable[..., Any]:
    """The function that renders ``command``'s output in format ``name``."""
    key = name.value if isinstance(name, Enum) else name
    table = _table(command)
    if key not in table:
        raise UsageError(f"{command} has no format {key!r}; choose one of "
                         f"{', '.join(table)}")
    module, _, path = table[key].render.partition(":")
    found: Any = importlib.import_module(module)
    for attribute in path.split("."):
        found = getattr(found, attribute)
    function: Callable[..., Any] = found
    return function


def render(command: str, name: str | Enum, subject: Any, **options: Any) -> Any:
    """``subject`` rendered in format ``name`` of ``command``: text, or a rich renderable.

    Each renderer receives the options its signature names (a Markdown renderer has no use
    for ``ops``, say) and no others.
    """
    function = renderer(command, name)
    accepted = inspect.signature(function).parameters
    return function(subject, **{key: value for key, value in options.items()
                                if key in accepted})
