"""The HTML report's structure, without a browser: self-contained, every module a row, every
number written by flopwise.render.units, the optional sections present exactly when the report
has their data."""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import torch

import flopwise
from flopwise.errors import UsageError
from flopwise.render.html import OPEN_DEPTH, render_html, render_html_table
from flopwise.render.units import format_bytes, format_count, format_percent
from flopwise.render.view import ReportView

from .conftest import B, I, mlp, mlp_figures, mlp_report


class Page(HTMLParser):
    """Every start tag with its attributes, and the text inside <script> and <style>."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: dict[str, list[str]] = {"script": [], "style": []}
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in self.inline else None

    def handle_data(self, data: str) -> None:
        if self._open:
            self.inline[self._open].append(data)

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.tags if t == tag
                and all(a.get(k.replace("_", "-")) == v for k, v in attrs.items())]


@torch.library.custom_op("flopwise_report_test::mystery", mutates_args=())
def mystery(x: torch.Tensor) -> torch.Tensor:
    """An op with no formula and no decomposition: always unsupported."""
    return x.clone()


@mystery.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class WithMystery(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = mlp(16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mystery(self.body(x))


def assert_self_contained(page: str) -> None:
    """No URL of any kind, nothing that loads a resource, script and style inline."""
    assert "http://" not in page and "https://" not in page
    assert "://" not in page                                 # no file:, ftp:, ws: ... either
    assert "url(" not in page and "@import" not in page      # CSS loads nothing
    parsed = Page(page)
    for tag, attrs in parsed.tags:
        assert "src" not in attrs and "href" not in attrs and "xmlns" not in attrs, (tag, attrs)
        assert tag not in ("link", "img", "iframe", "object", "embed", "base"), tag
    assert len(parsed.find("script")) == 1 and len(parsed.find("style")) == 1


@pytest.mark.parametrize("model", ["resnet50", "gpt2"])
def test_zoo_pages_are_self_contained_with_a_row_per_module(model: str,
                                                            request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(model)
    page = render_html(data)
    assert_self_contained(page)
    rows = Page(page).find("tr")
    module_rows = [r for r in rows if r.get("data-id")]
    assert [r["data-name"] for r in module_rows] == [m["name"] for m in data["modules"]]
    assert len(module_rows) == len(data["modules"]) > 100
    assert f"FLOPs ({data['convention']})" in page
    assert data["run"]["model"] in page


def test_numbers_are_written_by_units(resnet50: dict[str, Any]) -> None:
    page = render_html(resnet50)
    total = resnet50["total"]
    for text in (format_count(total["params"]), format_count(total["macs"]),
                 format_count(total["flops"]),
                 format_bytes(total["bytes_read"] + total["bytes_written"])):
        assert f'<div class="value">{text}</div>' in page
    writers = {"calls": format_count, "params": format_count, "macs": format_count,
               "flops": format_count, "self_flops": format_count, "bytes_read": format_bytes,
               "bytes_written": format_bytes, "output_bytes": format_bytes}
    cells = re.findall(r'<td class="num" data-key="([a-z_]+)" data-v="(-?\d+)">([^<]*)</td>', page)
    assert len(cells) == len(resnet50["modules"]) * len(writers)
    for key, raw, text in cells:
        assert text == writers[key](int(raw)), (key, raw, text)
    shares = re.findall(r'data-key="%flops" data-v="(\d+)"><div class="bar" '
                        r'style="width:([\d.]+)%"></div><span>([^<]*)</span>', page)
    assert len(shares) == len(resnet50["modules"])
    for raw, width, text in shares:
        assert text == format_percent(int(raw), total["flops"])
        assert float(width) == pytest.approx(100 * int(raw) / total["flops"], abs=0.006)


def test_charts_show_the_largest_own_costs(resnet50: dict[str, Any]) -> None:
    page = render_html(resnet50, top=5)
    modules = resnet50["modules"]
    own_flops = sorted(((m["self_flops"], m["name"]) for m in modules), reverse=True)
    chart = page.split('id="fw-chart-flops"')[1].split("</svg>")[0]
    assert chart.count("<rect") == 5
    assert f"{own_flops[0][1]}: {format_count(own_flops[0][0])}</title>" in chart
    params_chart = page.split('id="fw-chart-params"')[1].split("</svg>")[0]
    biggest = max(ReportView.load(resnet50).own("params"))
    assert f">{format_count(biggest)}</text>" in params_chart
    assert 'id="fw-chart-bytes"' in page
    assert 'id="roofline"' not in page          # no hardware section: no roofline


def test_unsupported_ops_decompositions_and_manifest_are_listed() -> None:
    report = flopwise.profile(WithMystery(), torch.randn(B, I), convention="exact")
    page = render_html(report)
    section = page.split('<section id="unsupported">')[1].split("</section>")[0]
    assert "flopwise_report_test.mystery.default" in section and "fw-unsupported" in section
    manifest = page.split('<section id="convention">')[1].split("</section>")[0]
    for value in report.convention.manifest().values():
        if isinstance(value, str):
            assert value in manifest
    assert "FLOPs (exact)" in page
    clean = render_html(mlp_report(16))
    assert 'id="fw-unsupported-none"' in clean


def test_extra_sections_add_cards_columns_and_the_roofline() -> None:
    data = mlp_report(16).to_dict()
    figures = mlp_figures(16)
    data["memory"] = {"peak_bytes": 3 * 1024**2, "activation_peak_bytes": 2048,
                      "modules": [{"name": "0", "peak_live_bytes": 1024}],
                      "notes": ["a note"], "source": "https://example.invalid/spec"}
    data["roofline"] = {"hardware": {"id": "h100-sxm", "peak_flops_per_s": 989.4e12,
                                     "bandwidth_bytes_per_s": 3.35e12}, "time_s": 4.2e-6}
    data["timing"] = {"time_s": 0.0015}
    page = render_html(data)
    assert_self_contained(page)                        # the source URL is left out
    assert '<div class="value">3.00 MiB</div>' in page                 # peak memory card
    assert '<div class="value">4.20 µs</div>' in page                  # estimated
    assert '<div class="value">1.50 ms</div>' in page                  # measured
    assert 'data-key="memory.peak_live_bytes" data-v="1024">1.00 KiB</td>' in page
    roofline = page.split('<section id="roofline">')[1].split("</section>")[0]
    points = [m for m in data["modules"] if m["self_flops"] > 0]     # 0, 1 and 2 do work
    assert roofline.count("<circle") == len(points) == 3
    assert "989.40 TFLOP/s" in roofline and "3.35 TB/s" in roofline
    assert format_count(figures["flops"]) in page


def test_markup_in_names_is_escaped() -> None:
    data = mlp_report(16).to_dict()
    data["run"]["model"] = "<script>alert(1)</script>"
    page = render_html(data)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_report_methods_and_the_notebook_fragment(gpt2: dict[str, Any]) -> None:
    report = mlp_report(16)
    assert report.to_html() == render_html(report.to_dict())
    fragment = report._repr_html_()
    assert fragment.startswith('<div class="flopwise-nb">') and "<script" not in fragment
    assert fragment.count("<tr data-id=") == 4 and "FLOPs (standard)" in fragment
    shallow = render_html_table(gpt2)
    shown = [m for m in gpt2["modules"] if m["depth"] <= OPEN_DEPTH]
    assert shallow.count("<tr data-id=") == len(shown)
    assert f"{len(gpt2['modules']) - len(shown)} deeper modules not shown" in shallow


def test_a_dict_that_is_not_a_schema_1_or_2_report_is_refused() -> None:
    data = copy.deepcopy(mlp_report(16).to_dict())
    data["schema"] = 3
    with pytest.raises(UsageError, match="schema 3"):
        render_html(data)
    with pytest.raises(UsageError, match="not a flopwise report"):
        render_html({"hello": 1})


def test_profile_writes_the_html_report(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    from typer.testing import CliRunner

    from flopwise.cli import app

    target = tmp_path / "resnet18.html"
    result = CliRunner().invoke(app, ["profile", "torchvision:resnet18", "-f", "html", "-o",
                                      str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and f"wrote {target}" in result.stderr
    page = target.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<title>flopwise: torchvision:resnet18 (ResNet)</title>" in page
    assert page.count("<tr data-id=") + page.count('<tr class="uncalled" data-id=') == 68
