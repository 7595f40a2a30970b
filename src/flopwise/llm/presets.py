"""Built-in architectures: Hugging Face config fields with a source link each (presets.json).

>>> "llama-3-8b" in preset_names()
True
>>> preset_source("gpt2")
'https://huggingface.co/openai-community/gpt2/blob/main/config.json'
"""

from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flopwise.errors import UsageError

__all__ = ["preset_names", "preset_config", "preset_source", "preset_description", "close_matches"]

_PRESETS_FILE = Path(__file__).with_name("presets.json")


@lru_cache(maxsize=1)
def _presets() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(_PRESETS_FILE.read_text(encoding="utf-8"))
    return data


def preset_names() -> tuple[str, ...]:
    """Every preset name, in the data file's order (lower-case, hyphenated)."""
    return tuple(_presets())


def close_matches(name: str, candidates: tuple[str, ...] | list[str]) -> str:
    """``" (did you mean a, b?)"`` for the candidates close to ``name``, or ``""``."""
    found = difflib.get_close_matches(name.lower(), list(candidates), n=3, cutoff=0.5)
    return f" (did you mean {', '.join(found)}?)" if found else ""


def _entry(name: str) -> dict[str, Any]:
    entry = _presets().get(name.lower())
    if entry is None:
        hint = close_matches(name, preset_names())
        raise UsageError(
            f"unknown model preset '{name}'{hint}; pass a preset (flopwise llm --list-presets), "
            "a path to a config.json, or explicit dimensions (--hidden --layers --heads --vocab)"
        )
    return entry


def preset_config(name: str) -> dict[str, Any]:
    """The Hugging Face config fields of preset ``name`` (a fresh copy), ``model_type`` included."""
    return dict(_entry(name)["config"])


def preset_source(name: str) -> str:
    """Where the preset's numbers come from (a config.json on the Hub, or a paper)."""
    return str(_entry(name)["source"])


def preset_description(name: str) -> str:
    """A one-line description of the preset."""
    return str(_entry(name)["description"])
