"""The format registry (flopwise.render.formats): every command's choices, help and renderers."""

from __future__ import annotations

import inspect
from typing import get_args

import pytest

from flopwise.errors import UsageError
from flopwise.render.formats import FORMATS, format_choices, format_help, render, renderer

CASES = [(command, name) for command, table in FORMATS.items() for name in table]


@pytest.mark.parametrize(("command", "name"), CASES, ids=[f"{c}-{n}" for c, n in CASES])
def test_every_registered_renderer_imports_and_takes_a_subject(command: str, name: str) -> None:
    function = renderer(command, name)
    assert callable(function)
    assert len(inspect.signature(function).parameters) >= 1


def test_choices_and_help_follow_the_table() -> None:
    assert get_args(format_choices("profile")) == ("table", "tree", "json", "csv", "md", "html")
    assert format_choices("profile") is format_choices("profile")   # one type per command
    assert format_help("ops") == "table (a table) or json (machine-readable)."


def test_render_passes_only_the_options_a_renderer_names(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}

    def shout(subject: str, top: int | None = None) -> str:
        seen["top"] = top
        return subject.upper()

    monkeypatch.setattr("flopwise.render.diff.render_diff_text", shout)
    assert render("diff", "table", "abc", top=3, columns="name", ops=True) == "ABC"
    assert seen == {"top": 3}


def test_unknown_commands_and_formats_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="diff has no format 'pdf'; choose one of table, json, md"):
        renderer("diff", "pdf")
    with pytest.raises(UsageError, match="no formats are registered for 'serve'"):
        format_help("serve")
