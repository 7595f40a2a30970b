"""The HTML reports of ResNet-50 and GPT-2 opened offline in headless Chromium.

Playwright drives the Debian ``chromium`` binary (never a downloaded browser): the page is
opened from a file with the network emulated offline and every request that is not the file
itself aborted and recorded, so a page that tried to load anything fails the test. The tests
check the rendered DOM (the module rows, expanding, sorting, filtering, the chart tabs) and that
a screenshot shows a page, not a blank. One more test runs the chromium binary alone
(``--dump-dom``) to show the script runs without Playwright too.

They skip, saying why, where Chromium or the Playwright package is missing; ``.ci/run``
installs Chromium, and Playwright comes with the ``test`` extra.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flopwise.render.html import OPEN_DEPTH, render_html
from flopwise.render.view import ReportView

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium is not installed (Debian: apt-get install chromium; .ci/run "
    "installs it)",
)
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run", "--disable-sync", "--disable-extensions"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the playwright package is not installed (pip install 'flopwise[test]')")
    with sync_api.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class Opened:
    """A report page open in Chromium, with what it tried to fetch and what it complained of."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.blocked: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
        self.context.route("**/*", self._only_the_file)
        self.page = self.context.new_page()
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text)
                     if message.type in ("error", "warning") else None)
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("html[data-fw-ready=true]", state="attached", timeout=10_000)

    def _only_the_file(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("file://"):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def visible_names(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#fw-modules tbody tr:not([hidden])", "rows => rows.map(r => r.dataset.name)")

    def row(self, name: str) -> Any:
        return self.page.locator(f'#fw-modules tbody tr[data-name="{name}"]')

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def pages(browser: Any, resnet50: dict[str, Any], gpt2: dict[str, Any],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Opened, dict]]]:
    folder = tmp_path_factory.mktemp("html")
    opened = {}
    for name, data in (("resnet50", resnet50), ("gpt2", gpt2)):
        path = folder / f"{name}.html"
        path.write_text(render_html(data), encoding="utf-8")
        opened[name] = (Opened(browser, path), data)
    yield opened
    for page, _ in opened.values():
        page.close()


def initially_visible(modules: list[dict[str, Any]]) -> list[str]:
    """Rows whose ancestors are all expanded: ancestors above OPEN_DEPTH are open."""
    return [m["name"] for m in modules if m["depth"] <= OPEN_DEPTH]


def children_of(data: dict[str, Any], name: str) -> list[str]:
    view = ReportView.load(data)
    index = [row.name for row in view.rows].index(name)
    return [view.rows[i].name for i, p in enumerate(view.parents) if p == index]


@pytest.mark.parametrize("model", ["resnet50", "gpt2"])
def test_the_page_renders_every_module_row_offline(pages: dict, model: str) -> None:
    page, data = pages[model]
    assert page.blocked == [] and page.errors == []
    assert page.page.locator("#fw-modules tbody tr").count() == len(data["modules"])
    assert page.visible_names() == initially_visible(data["modules"])
    assert page.page.title() == f"flopwise: {data['run']['model']}"
    flops_card = page.page.inner_text('[data-card="flops"] .label')
    assert flops_card.lower() == f"flops ({data['convention']})"


@pytest.mark.parametrize(("model", "parent"), [("resnet50", "layer1.0"), ("gpt2", "transformer.h")])
def test_expanding_and_collapsing_a_module(pages: dict, model: str, parent: str) -> None:
    page, data = pages[model]
    children = children_of(data, parent)
    assert children and not set(children) & set(page.visible_names())
    toggle = page.row(parent).locator("button.tog")
    assert toggle.get_attribute("aria-expanded") == "false"
    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    visible = page.visible_names()
    at = visible.index(parent)
    assert visible[at + 1: at + 1 + len(children)] == children
    toggle.click()
    assert page.visible_names() == initially_visible(data["modules"])
    page.page.click("#fw-collapse")
    assert page.visible_names() == [""]
    page.page.click("#fw-expand")
    assert page.visible_names() == [m["name"] for m in data["modules"]]
    page.page.click("#fw-collapse")
    page.row("").locator("button.tog").click()
    assert page.visible_names() == [""] + children_of(data, "")
    page.page.reload()
    page.page.wait_for_selector("html[data-fw-ready=true]", state="attached")


def test_sorting_by_a_column_orders_siblings_and_clicks_cycle(pages: dict) -> None:
    page, data = pages["resnet50"]
    top_level = [m for m in data["modules"] if m["depth"] == 1]
    header = page.page.locator('#fw-modules th[data-key="flops"]')

    def top_order() -> list[str]:
        names = {m["name"] for m in top_level}
        return [n for n in page.visible_names() if n in names]

    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    expected = [m["name"] for m in sorted(top_level, key=lambda m: -m["flops"])]
    assert top_order() == expected and expected[0] == "layer3"
    children = [m for m in data["modules"] if m["name"] in children_of(data, "layer3")]
    visible = page.visible_names()
    at = visible.index("layer3")                 # its children follow it, largest first
    assert visible[at + 1: at + 1 + len(children)] == [
        m["name"] for m in sorted(children, key=lambda m: -m["flops"])]
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert top_order() == [m["name"] for m in sorted(top_level, key=lambda m: m["flops"])]
    header.click()
    assert header.get_attribute("aria-sort") is None
    assert page.visible_names() == initially_visible(data["modules"])
    names = page.page.locator('#fw-modules th[data-key="name"]')
    names.click()                                          # text sorts ascending first
    assert top_order() == sorted(m["name"] for m in top_level)
    names.click()
    names.click()


def test_flat_view_sorts_all_modules_and_filter_keeps_ancestors(pages: dict) -> None:
    page, data = pages["gpt2"]
    page.page.select_option("#fw-view", "flat")
    header = page.page.locator('#fw-modules th[data-key="params"]')
    header.click()
    visible = page.visible_names()
    assert len(visible) == len(data["modules"])
    params = {m["name"]: m["params"] for m in data["modules"]}
    assert [params[n] for n in visible] == sorted(params.values(), reverse=True)
    header.click()
    header.click()
    page.page.select_option("#fw-view", "tree")
    page.page.fill("#fw-filter", "c_fc")
    visible = page.visible_names()
    matches = [m["name"] for m in data["modules"] if "c_fc" in m["name"]]
    assert len(matches) == 12 and set(matches) <= set(visible)
    for name in visible:            # each shown row matches or holds a match
        assert name in matches or any(m.startswith(name + ".") or name == "" for m in matches)
    assert "transformer.wte" not in visible
    page.page.fill("#fw-filter", "")
    assert page.visible_names() == initially_visible(data["modules"])


def test_chart_tabs_switch_panels(pages: dict) -> None:
    page, _ = pages["resnet50"]
    flops, params = page.page.locator("#fw-panel-flops"), page.page.locator("#fw-panel-params")
    assert flops.is_visible() and not params.is_visible()
    page.page.click("#fw-tab-params")
    assert params.is_visible() and not flops.is_visible()
    assert page.page.locator("#fw-chart-params rect").count() == 25
    page.page.click("#fw-tab-flops")


@pytest.mark.parametrize("model", ["resnet50", "gpt2"])
def test_a_screenshot_shows_the_report(pages: dict, model: str,
                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    from PIL import Image

    page, _ = pages[model]
    page.page.evaluate("window.scrollTo(0, 0)")      # the summary and the top of the table
    png = page.page.screenshot(full_page=False)
    (tmp_path_factory.getbasetemp() / f"{model}.png").write_bytes(png)  # to look at
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1280, 900)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200          # text, bars, cards: not blank
    white = sum(count for count, rgb in colours if min(rgb) >= 250)
    assert white / (1280 * 900) < 0.9
    bar_blue = (169, 200, 245)                                  # --bar: the % FLOPs bars
    assert any(rgb == bar_blue for _, rgb in colours)


def test_chromium_alone_runs_the_script_offline(resnet50: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "resnet50.html"
    path.write_text(render_html(resnet50), encoding="utf-8")
    result = subprocess.run(
        [CHROMIUM, "--headless", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert 'data-fw-ready="true"' in dom
    assert dom.count("<tr data-id=") + dom.count('<tr class="uncalled" data-id=') == len(
        resnet50["modules"])
    hidden = sum(1 for m in resnet50["modules"] if m["depth"] > OPEN_DEPTH)
    assert len(re.findall(r'<tr [^>]*\bhidden=""', dom)) == hidden > 0
