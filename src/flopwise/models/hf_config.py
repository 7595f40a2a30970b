"""Reading a Hugging Face ``config.json``: one reader for ``hf:CONFIG`` specs and the LLM planner.

Imports neither torch nor transformers (``flopwise llm`` uses it). The same mistake raises the
same error on both sides: a missing file is a :class:`~flopwise.UsageError`, a file that is not
a JSON object or names no ``model_type`` a :class:`~flopwise.ConfigError`.

>>> config_path("gpt2") is None          # a name (model type or preset), not a path
True
>>> try:
...     config_path("no/such/config.json")
... except UsageError as error:
...     print(str(error).split(";")[0])
no such config file: no/such/config.json
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flopwise.errors import ConfigError, UsageError

__all__ = ["config_path", "read_config", "model_type_of"]


def config_path(text: str, names: str = "a name") -> Path | None:
    """The ``config.json`` that ``text`` names (a file or its folder), ``None`` for a plain name.

    Text that looks like a path (``/``, ``\\``, ``.json``) but names nothing is a usage error
    (a hub id too: nothing is downloaded); ``names`` says what else the caller accepts.
    """
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return path
    if text.endswith(".json") or "/" in text or "\\" in text:
        raise UsageError(f"no such config file: {text}; pass an existing config.json (or its "
                         f"folder) or {names}; nothing is downloaded")
    return None


def read_config(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`~flopwise.ConfigError` says why when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}; check the path") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        reason = (f"{error.msg} at line {error.lineno}" if isinstance(error, json.JSONDecodeError)
                  else "not UTF-8 text")
        raise ConfigError(f"{path} is not valid JSON ({reason}); pass a Hugging Face "
                          "config.json") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}, not an object; pass a "
                          "config.json")
    return data


def model_type_of(config: Mapping[str, Any], where: str, known: str = "") -> str:
    """The config's ``model_type``; a missing one is a :class:`~flopwise.ConfigError`.

    ``known`` lists (or describes) the accepted types for the message.
    """
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        choices = f" (one of {known})" if known else " (gpt2, llama, bert, ...)"
        raise ConfigError(f"{where}: missing field 'model_type'; add it to the config{choices}")
    return model_type
