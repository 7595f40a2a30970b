"""One config.json reader for `hf:CONFIG` and `flopwise llm`: the same mistake, the same error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from flopwise.errors import ConfigError, UsageError
from flopwise.llm.config import load_spec


def _hf(text: str) -> Any:
    pytest.importorskip("transformers")
    from flopwise.models.hf import hf_config

    return hf_config(f"hf:{text}", text)


READERS: list[Callable[[str], Any]] = [load_spec, _hf]


@pytest.mark.parametrize("read", READERS, ids=["llm", "hf"])
@pytest.mark.parametrize(("content", "error", "match"), [
    (None, UsageError, "no such config file"),
    ("{not json", ConfigError, "not valid JSON"),
    ("[1, 2]", ConfigError, "not an object"),
    ('{"n_layer": 2}', ConfigError, "missing field 'model_type'"),
], ids=["missing", "invalid-json", "not-object", "no-model-type"])
def test_the_same_mistake_raises_the_same_error(read: Callable[[str], Any], content: str | None,
                                                error: type[Exception], match: str,
                                                tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=match):
        read(str(path))
