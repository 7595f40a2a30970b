"""The plan-search text fits the console: tables where they fit, one block per row where not."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console

from flopwise.llm.config import load_spec
from flopwise.llm.render_search import record_lines, render_search_table
from flopwise.llm.search import search


def _text(width: int) -> list[str]:
    result = search(load_spec("llama-2-7b"), gpus=16, hardware="a100-80gb", seq=4096)
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None).print(render_search_table(result, 3))
    return buffer.getvalue().splitlines()


def test_fits_80_columns_when_redirected() -> None:
    lines = _text(80)
    assert max(cell_len(line) for line in lines) <= 80
    # the ranking and the communication, one block per row, each value whole
    assert sum(line.startswith("# ") for line in lines) == 3
    assert any(line.startswith("# 1 · tp·pp·dp ") for line in lines)
    assert any(line.startswith("group dp · collective ") for line in lines)
    assert not any("┃" in line and "tokens/s" in line for line in lines)


def test_wide_console_keeps_the_tables() -> None:
    lines = _text(220)
    header = [line for line in lines if "tp·pp·dp" in line and "headroom" in line]
    assert len(header) == 1 and "┃" in header[0]
    assert not any(line.startswith("# 1 · ") for line in lines)


def test_record_lines_never_split_a_pair() -> None:
    header = ("#", "step", "exposed comm")
    row = ("1", "3.11 s", "553.45 ms 17.8%")
    assert record_lines(header, row, 80) == ["# 1 · step 3.11 s · exposed comm 553.45 ms 17.8%"]
    assert record_lines(header, row, 20) == ["# 1 · step 3.11 s", "    exposed comm 553.45 ms 17.8%"]
