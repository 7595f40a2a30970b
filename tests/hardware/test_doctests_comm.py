"""The examples in the interconnect and communication-time docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["flopwise.hardware.interconnect", "flopwise.hardware.comm"]


@pytest.mark.parametrize("name", MODULES, ids=str)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
