"""report.html in a real browser: Debian's chromium, headless, driven by Selenium through chromium-driver.

What a person sees first is the verdict; nothing is wider than a 1,000 px window; the page logs no
errors; titles, headings and reasons are readable (contrast >= 4.5:1, WCAG AA). The browser and its
driver come from Debian (``.ci/run`` installs ``chromium`` and ``chromium-driver``); without them the
tests are skipped with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_tools import headless_chromium, needs_browser

from conformance.cli import main
from conformance.report._results import REQUIREMENT_CLAUSES

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1000, 800
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
pytestmark = needs_browser


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """report.html of a compatible and of a not-compatible shipped profile."""
    out = tmp_path_factory.mktemp("browser")
    pages = {}
    for name, status in (("reference", 0), ("consult-connected-only", 1)):
        assert main(["run", "--profile", name, "--out", str(out / name)]) == status
        pages[name] = out / name / "report.html"
    return pages


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium(f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", page_load_timeout=60) as driver:
        driver.set_window_size(WIDTH, HEIGHT)
        yield driver


def _open(browser: Any, page: Path) -> None:
    browser.get_log("browser")          # drop what an earlier page logged
    browser.get(page.as_uri())
    browser.execute_script("return document.readyState")


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_the_verdict_box_is_in_the_first_screen(browser: Any, reports: dict[str, Path], name: str) -> None:
    _open(browser, reports[name])
    box = browser.execute_script(
        "const r = document.querySelector('#ro-verdict h2').getBoundingClientRect();"
        "return {top: r.top, bottom: r.bottom, height: window.innerHeight};")
    assert box["top"] >= 0 and box["bottom"] <= box["height"], box


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_nothing_overflows_at_1000_px(browser: Any, reports: dict[str, Path], name: str) -> None:
    _open(browser, reports[name])
    sizes = browser.execute_script(
        "const d = document.documentElement;"
        "const wide = [...document.body.querySelectorAll('*')].filter(e => {"
        "  const r = e.getBoundingClientRect(); return r.width > 0 && r.right > d.clientWidth + 1 &&"
        "  !e.closest('.ro-ladder, pre, #results-table, [hidden]') && getComputedStyle(e).display !== 'none';"
        "}).slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);"
        "return {scroll: d.scrollWidth, client: d.clientWidth, wide: wide};")
    assert sizes["scroll"] <= sizes["client"], sizes
    assert sizes["wide"] == [], sizes


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_the_page_logs_no_errors(browser: Any, reports: dict[str, Path], name: str) -> None:
    _open(browser, reports[name])
    errors = [e for e in browser.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]
    assert errors == []


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_the_visible_words_are_ours(browser: Any, reports: dict[str, Path], name: str) -> None:
    _open(browser, reports[name])
    text = browser.execute_script("return document.body.innerText")
    for theirs in ("Skipped", "Passed", "not-applicable", "[[", "]]", "))"):
        assert theirs not in text, theirs
    assert re.search(r"\b\d+ tests\b", text) is None
    assert f"Requirements ({len(REQUIREMENT_CLAUSES)})" in text and "not applicable" in text


_CONTRAST_JS = """
function rgb(s) { const m = s.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : [...m, 1]; }
function lum(c) { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255;
  return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126*r + 0.7152*g + 0.0722*b; }
function background(e) { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor);
  if (c[3] > 0) return c; } return [255, 255, 255, 1]; }
const out = [];
for (const e of document.querySelectorAll(arguments[0])) {
  if (!e.getClientRects().length || !e.textContent.trim()) continue;
  const a = lum(rgb(getComputedStyle(e).color)), b = lum(background(e));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  out.push([e.tagName + '.' + e.className, e.textContent.trim().slice(0, 40), Math.round(ratio * 100) / 100]);
}
return out;
"""


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_titles_headings_and_reasons_have_aa_contrast(browser: Any, reports: dict[str, Path], name: str) -> None:
    _open(browser, reports[name])
    checked = browser.execute_script(_CONTRAST_JS, "h1, h2, h3, .ro-reason, .ro-ladder-title, summary, "
                                                   ".ro-outcome, th, td, a, p, .ro-partial")
    assert len(checked) > 20
    low = [c for c in checked if c[2] < 4.5]
    assert low == []
