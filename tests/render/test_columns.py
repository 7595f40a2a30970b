"""Column selection, the "(not called)" rule, and the unit helpers the renderers use."""

from __future__ import annotations

import pytest
import torch

import flopwise
from flopwise.errors import UsageError
from flopwise.render.columns import COLUMNS, DEFAULT_COLUMNS, parse_columns
from flopwise.render.csv import render_csv
from flopwise.render.table import render_text
from flopwise.render.units import format_count, format_count_exact, format_grouped, format_number
from flopwise.render.view import ReportView


class Stack(torch.nn.Module):
    """A ModuleList that is iterated (never called itself) and a head that never runs."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = torch.nn.ModuleList(torch.nn.Linear(4, 4) for _ in range(2))
        self.head = torch.nn.Sequential(torch.nn.Linear(4, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


@pytest.fixture(scope="module")
def stack_report() -> flopwise.Report:
    return flopwise.profile(Stack(), torch.randn(3, 4))


def test_parse_columns_keeps_order_and_rejects_unknown_keys() -> None:
    assert [c.key for c in parse_columns("flops, name ,%flops")] == ["flops", "name", "%flops"]
    assert [c.key for c in parse_columns(None)] == list(DEFAULT_COLUMNS)
    with pytest.raises(UsageError, match=r"unknown column 'flop'; did you mean flops"):
        parse_columns("name,flop")
    with pytest.raises(UsageError, match="empty"):
        parse_columns(" , ")


@pytest.mark.parametrize("key", sorted(COLUMNS))
def test_every_header_names_a_unit_or_is_text(key: str) -> None:
    column = COLUMNS[key]
    if column.kind.value == "bytes":
        assert column.header.endswith("(B)")
    elif column.kind.value == "count":
        assert any(word in column.header for word in ("MACs", "FLOPs", "params", "trainable", "calls"))


def test_default_columns_add_phase_flops_when_backward_ran() -> None:
    model = torch.nn.Linear(4, 2)
    report = flopwise.profile(model, torch.randn(3, 4), backward=True)
    keys = [c.key for c in parse_columns(None, report)]
    assert keys[keys.index("%flops") + 1: keys.index("%flops") + 3] == [
        "forward_flops", "backward_flops"]


def test_containers_that_ran_through_children_are_not_marked(stack_report: flopwise.Report) -> None:
    ran = ReportView.of(stack_report).ran
    assert {"", "blocks", "blocks.0", "blocks.1"} <= ran      # blocks: a ModuleList, 0 calls
    assert stack_report.module("blocks").calls == 0
    assert "head" not in ran and "head.0" not in ran
    text = render_text(stack_report, columns="name,calls,macs")
    assert "blocks (not called)" not in text
    assert "head (not called)" in text and "head.0 (not called)" in text
    # head and head.0 never ran; only the outermost one's 4·1 + 1 params are counted once
    assert "2 module(s) never called, marked (not called); they hold 5 params" in text


def test_csv_called_column_follows_the_same_rule(stack_report: flopwise.Report) -> None:
    lines = render_csv(stack_report, columns="name,macs").splitlines()
    assert lines[0] == "name,macs,called,convention"
    assert "blocks,96,true,standard" in lines          # 2 blocks · 3 rows · 4 · 4 MACs
    assert "head,0,false,standard" in lines


def test_depth_limits_rows(stack_report: flopwise.Report) -> None:
    text = render_text(stack_report, columns="name", max_depth=1)
    assert "blocks.0" not in text and "  blocks" in text


@pytest.mark.parametrize(
    ("value", "count", "exact", "number"),
    [
        (0, "0", "0", "0"),
        (999, "999", "999", "999"),
        (1344, "1.34 K", "1.34 K (1,344)", "1344"),
        (4_089_184_256, "4.09 G", "4.09 G (4,089,184,256)", "4089184256"),
        (3 * 10**12, "3.00 T", "3.00 T (3,000,000,000,000)", "3000000000000"),
        # GPT-3 175B on 300B tokens by 6NT: 6 · 175e9 · 300e9 = 3.15e23 = 315 Z
        (315 * 10**21, "315.00 Z", "315.00 Z (" + format(315 * 10**21, ",") + ")", str(315 * 10**21)),
        (38 * 10**24, "38.00 Y", "38.00 Y (" + format(38 * 10**24, ",") + ")", str(38 * 10**24)),
    ],
    ids=["zero", "below-K", "K", "G", "T", "Z", "Y"],
)
def test_counts_use_si_prefixes_never_b(value: int, count: str, exact: str, number: str) -> None:
    assert format_count(value) == count
    assert format_count_exact(value) == exact
    assert format_number(value) == number
    assert "B" not in format_count(value)


def test_plain_numbers_for_machines() -> None:
    assert format_number(76.19047619) == "76.1905"
    assert format_number(100.0) == "100"
    assert format_grouped(25_557_032) == "25,557,032"
