"""The transformers zoo (issue 11, must-show 1), on a deterministic sample.

The whole zoo (every type in ``MODEL_MAPPING_NAMES``) is ``python bench/hf_zoo.py`` (its
table is in docs/benchmarks.md). CI runs one type in 40 (12 of the 622 types of transformers
5.24, picked by a hash of the name: the same ones every run, spread over the alphabet), through
the same check:
``flopwise profile hf:TYPE`` exits 0 with the built model's ``sum(p.numel())`` parameters and
no unsupported op, or the type is on ``bench/hf_zoo_listed.json`` and its error is one line.
"""

from __future__ import annotations

import hashlib

import pytest

pytest.importorskip("transformers")

from bench.hf_zoo import check_type, listed  # noqa: E402

SHARDS = 40


def _sample() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return sorted(name for name in MODEL_MAPPING_NAMES
                  if int(hashlib.sha256(name.encode()).hexdigest(), 16) % SHARDS == 0)


@pytest.mark.slow
@pytest.mark.parametrize("model_type", _sample())
def test_model_type_profiles_or_is_listed(model_type: str) -> None:
    row = check_type(model_type)
    if row["outcome"] == "unbuildable":
        pytest.skip(f"transformers cannot build {model_type} from its default config: "
                    f"{row['error']}")
    known = listed()
    if model_type in known:
        assert row["outcome"] != "works", f"{model_type} works now: take it off the list"
        errors = [line for line in row["stderr"] if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in "\n".join(row["stderr"]), row
        return
    assert row["outcome"] == "works", row
    assert row["params"] == row["expected_params"]
