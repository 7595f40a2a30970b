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

from bench.hf_zoo import check_type, listed, one_line_check, refused_in_one_line  # noqa: E402

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
        assert refused_in_one_line(row), row
        return
    assert row["outcome"] == "works", row
    assert row["params"] == row["expected_params"]


NOTE = "note: input: 128 tokens"
ERROR = "error: hf:x needs real values (...); run it on a larger machine with --device cuda"


@pytest.mark.parametrize(("row", "one_line"), [
    ({"outcome": "fails", "exit_code": 1, "stderr": [NOTE, ERROR]}, True),   # notes are not errors
    ({"outcome": "fails", "exit_code": 2, "stderr": [ERROR]}, True),
    ({"outcome": "fails", "exit_code": 1, "stderr": [NOTE, ERROR, "RuntimeError: boom"]}, False),
    ({"outcome": "fails", "exit_code": 1, "stderr": ["Traceback (most recent call last):"]},
     False),
    ({"outcome": "fails", "exit_code": 1, "stderr": [NOTE]}, False),          # no error line
    ({"outcome": "crashed"}, False),                                           # killed: no line
    ({"outcome": "works", "exit_code": 0, "stderr": [NOTE]}, False),          # listed, but works
], ids=["note-and-error", "error", "uncaught", "traceback", "notes-only", "crashed", "works"])
def test_a_listed_type_is_refused_in_exactly_one_error_line(row: dict[str, object],
                                                             one_line: bool) -> None:
    assert refused_in_one_line({"type": "x", **row}) is one_line


def test_the_one_line_check_names_every_listed_type_that_breaks_it() -> None:
    rows = {"a": {"type": "a", "outcome": "fails", "exit_code": 1, "stderr": [ERROR]},
            "b": {"type": "b", "outcome": "crashed"},
            "c": {"type": "c", "outcome": "unbuildable"}}
    # a: one line; b: crashed; c: not buildable, so never run; d: listed, never run
    assert one_line_check(rows, {"a": "", "b": "", "c": "", "d": ""}) == ["b", "c", "d"]
