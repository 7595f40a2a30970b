"""The examples in the planner's docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "flopwise.llm",
    "flopwise.llm.config",
    "flopwise.llm.presets",
    "flopwise.llm.params",
    "flopwise.llm.flops",
    "flopwise.llm.memory",
    "flopwise.llm.timing",
    "flopwise.llm.plan",
    "flopwise.llm.render",
    "flopwise.llm.parallel",
    "flopwise.llm.search",
    "flopwise.llm.render_search",
    "flopwise.cli.llm",
]


@pytest.mark.parametrize("name", MODULES, ids=str)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
