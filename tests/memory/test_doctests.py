"""The examples in the docstrings of the memory, roofline-estimate and timing modules run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["flopwise.memory", "flopwise.memory.states", "flopwise.memory.tracker",
           "flopwise.memory.report", "flopwise.memory.fit", "flopwise.hardware.estimate",
           "flopwise.timing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
