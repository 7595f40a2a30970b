"""ReportView: one read-only view, built from a live report or a saved file, read by every renderer.

Version-1 files (tests/fixtures/v1, written by flopwise d5a0023) profile Sequential(Conv2d(3, 4,
3, padding=1), BatchNorm2d(4), ReLU, Flatten, Linear(256, 10)) on a [2, 3, 8, 8] float32 input.
"""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

import flopwise
from flopwise.diff import diff_reports
from flopwise.errors import UsageError
from flopwise.render.csv import render_csv
from flopwise.render.diff import render_diff_json, render_diff_markdown, render_diff_text
from flopwise.render.html import render_html, render_html_table
from flopwise.render.markdown import render_markdown
from flopwise.render.table import render_text
from flopwise.render.tree import render_tree
from flopwise.render.view import ReportView, as_view, label, run_line
from flopwise.schema import SECTIONS

V1 = Path(__file__).resolve().parents[1] / "fixtures" / "v1"
RENDER = Path(__file__).resolve().parents[2] / "src" / "flopwise" / "render"

# the MLP: Sequential(Linear(8, 16), ReLU, Linear(16, 2)) on a [4, 8] float32 input
B, I, H, O = 4, 8, 16, 2
MLP_PARAMS = (I * H + H, 0, H * O + O)                     # 144, 0, 34
MLP_MACS = B * I * H + B * H * O                           # 512 + 128 = 640

# the v1 convnet
N, C, K, S, HW, CLASSES = 2, 3, 4, 3, 8, 10
CONV_PARAMS = C * K * S * S + K                            # 112
NORM_PARAMS = K + K                                        # 8
LINEAR_PARAMS = K * HW * HW * CLASSES + CLASSES            # 2570
CONV_MACS = N * K * HW * HW * C * S * S                    # 13824
LINEAR_MACS = N * K * HW * HW * CLASSES                    # 5120
ACTIVATIONS = N * K * HW * HW                              # 512
# standard: 2 per MAC; batch norm 4 FLOPs per element, ReLU 1
CONV_FLOPS = 2 * (CONV_MACS + LINEAR_MACS) + 4 * ACTIVATIONS + ACTIVATIONS  # 40448
CONV_TYPES = ("Sequential", "Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear")


def mlp_report() -> flopwise.Report:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(I, H), torch.nn.ReLU(), torch.nn.Linear(H, O))
    return flopwise.profile(model, torch.randn(B, I))


def v1(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((V1 / f"{name}.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def live() -> flopwise.Report:
    return mlp_report()


@pytest.mark.parametrize("source", ["live", "dict", "file"])
def test_a_view_reads_the_same_from_a_live_report_a_dict_and_a_file(
        live: flopwise.Report, source: str, tmp_path: Path) -> None:
    if source == "live":
        view = ReportView.of(live)
    elif source == "dict":
        view = ReportView.load(json.loads(live.to_json()))
    else:
        path = tmp_path / "mlp.json"
        path.write_text(live.to_json(), encoding="utf-8")
        view = ReportView.load(str(path))
    assert view.total.params == sum(MLP_PARAMS) and view.total.macs == MLP_MACS
    assert [label(row.name) for row in view.modules()] == ["(root)", "0", "1", "2"]
    assert [row.type for row in view.rows] == ["Sequential", "Linear", "ReLU", "Linear"]
    assert view.parents == (None, 0, 0, 0) and view.leaves == {1, 2, 3}
    assert view.own("params") == [0, *MLP_PARAMS]          # the root holds none of its own
    assert view.top(view.own("params"), 5) == [("0", 144), ("2", 34)]
    assert view.ran == {"", "0", "1", "2"} and view.modules(max_depth=0)[0].name == ""
    assert {op.op for op in view.ops()} >= {"aten.addmm.default", "aten.relu.default"}
    assert view.convention == "standard" and view.convention_summary.startswith("2 FLOPs")
    assert run_line(view) == "Sequential · real on cpu · inputs [4, 8] · forward"
    assert view.schema == 2 and view.sections == {} and view.peak_memory_bytes is None


def test_the_live_and_the_saved_view_hold_equal_records(live: flopwise.Report) -> None:
    mine, saved = ReportView.of(live), ReportView.load(live.to_dict())
    assert mine.rows == saved.rows and mine.op_rows == saved.op_rows
    assert (mine.total, mine.phases) == (saved.total, saved.phases)
    # the JSON form does not keep the inputs' dtypes (no renderer shows them)
    assert dataclasses.replace(mine.run, input_dtypes=()) == saved.run


def test_a_view_is_read_only(live: flopwise.Report) -> None:
    view = ReportView.of(live)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.convention = "macs"  # type: ignore[misc]
    assert as_view(view) is view


def test_anything_else_is_refused_in_one_line() -> None:
    with pytest.raises(UsageError, match="the first report: expected a flopwise Report"):
        as_view(42, "the first report")
    with pytest.raises(UsageError, match="is not a flopwise report"):
        ReportView.load({"schema": 2})


@pytest.mark.parametrize("name", ["convnet", "convnet_sections", "convnet_train"])
def test_version_1_files_load_into_a_view(name: str) -> None:
    view = ReportView.load(v1(name))
    assert view.schema == 1 and view.total.params == CONV_PARAMS + NORM_PARAMS + LINEAR_PARAMS
    assert [row.type for row in view.rows] == list(CONV_TYPES)
    assert view.own("params")[1:] == [CONV_PARAMS, NORM_PARAMS, 0, 0, LINEAR_PARAMS]
    assert list(view.phases) == (["forward", "backward"] if name == "convnet_train"
                                 else ["forward"])
    if name != "convnet_train":
        assert view.total.macs == CONV_MACS + LINEAR_MACS and view.total.flops == CONV_FLOPS


_TEXT: dict[str, Callable[[Any], str]] = {
    "table": render_text,
    "tree": render_tree,
    "md": render_markdown,
    "csv": lambda r: render_csv(r, columns="name,macs,flops"),
    "html": render_html,
    "html-table": render_html_table,
}


@pytest.mark.parametrize("renderer", sorted(_TEXT))
@pytest.mark.parametrize("name", ["convnet", "convnet_sections"])
def test_every_renderer_renders_a_version_1_file(name: str, renderer: str) -> None:
    text = _TEXT[renderer](v1(name))
    if renderer == "csv":
        assert text.splitlines()[1] == f",{CONV_MACS + LINEAR_MACS},{CONV_FLOPS},true,standard"
        return
    assert "Linear" in text and "BatchNorm2d" in text
    if renderer in ("table", "tree", "md"):
        assert "40,448" in text and "18,944" in text                     # exact totals
        assert ("Memory" in text) == ("Roofline estimate on h100-sxm" in text) \
            == (name == "convnet_sections")
    else:
        assert "FLOPs (standard)" in text and "40.45 K" in text


def test_the_plots_render_a_version_1_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from flopwise.render.plots import compare_points, plot_report

    path = plot_report(v1("convnet_sections"), tmp_path / "convnet.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    points = compare_points([v1("convnet"), v1("convnet_sections")])
    assert [p.flops for p in points] == [CONV_FLOPS, CONV_FLOPS]
    assert points[0].latency_s is None and points[1].measured      # only one has --time


def test_version_1_files_diff_and_render_the_diff() -> None:
    change = diff_reports(v1("convnet"), v1("convnet_train"), before_label="infer",
                          after_label="train")
    assert change.totals["params"].change == 0
    assert change.totals["macs"].change == v1("convnet_train")["total"]["macs"] - (
        CONV_MACS + LINEAR_MACS)
    assert "infer" in render_diff_text(change) and "| module |" in render_diff_markdown(change)
    assert json.loads(render_diff_json(change))["totals"]["params"]["change"] == 0


@dataclass(frozen=True)
class Note:
    """A made-up section: shows in every text renderer through title() and pairs()."""

    KEY: ClassVar[str] = "note"
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Note:
        return cls(str(data["text"]))

    def title(self) -> str:
        return "Note"

    def pairs(self) -> list[tuple[str, str]]:
        return [("says", self.text)]


def test_a_new_section_shows_in_every_renderer_by_its_title_and_pairs(
        live: flopwise.Report, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SECTIONS, "note", f"{__name__}:Note")
    report = live.with_section(Note("hello"))
    for render in (render_text, render_tree):
        lines = render(report).splitlines()
        assert "Note" in lines and any(line.split() == ["says", "hello"] for line in lines)
    assert "### Note" in render_markdown(report) and "| says | hello |" in render_markdown(report)
    assert 'id="fw-extra-note"' in render_html(report)           # "More figures", from its JSON
    assert "| says | hello |" in render_markdown(report.to_dict())  # read back typed


def test_renderers_never_import_the_report_module() -> None:
    """Renderers read the view; not even a type-only import ties them to flopwise.report."""
    for path in RENDER.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                     for alias in node.names}
        assert "flopwise.report" not in imported, path.name
