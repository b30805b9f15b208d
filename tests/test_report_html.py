"""report.html pieces from hand-made results, and pytest-html with our hooks on a stand-in suite.

The stand-in suite lets these tests run without ``conformance.suite``: a tiny test file plus a plugin
object that fills ``config.stash[RESULTS_KEY]`` the way the suite plugin does.
"""

from __future__ import annotations

import html
import json
import os
import re
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from report_fixtures import EVIL, all_pass, evil_records, outcome, run_results

import conformance.plugin
from conformance.report import _results
from conformance.report._html import (
    HtmlReportPlugin,
    backend_html,
    evidence_html,
    evidence_section_html,
    profile_html,
    requirements_table_html,
    verdict_box_html,
)

LIVE_MARKUP = ("<script>alert", "<img src=x", 'onerror=alert(2)>')


def assert_inert(text: str) -> None:
    """Nothing from EVIL survives as markup; the escaped form is what is there instead."""
    for bad in LIVE_MARKUP:
        assert bad not in text, f"live markup {bad!r} in output"


def as_xml(fragment: str) -> ET.Element:
    """Our fragments are well-formed XHTML: parsing proves no tag was opened by data."""
    return ET.fromstring(f"<root>{fragment}</root>")


# --- pieces ----------------------------------------------------------------------------------------


def test_verdict_box_compatible_names_route_and_formula() -> None:
    box = verdict_box_html(run_results(all_pass()).to_jsonable())
    assert "COMPATIBLE" in box and "NOT COMPATIBLE" not in box
    assert "<b>Route:</b> blind" in box
    assert "Exit status:</b> 0" in box
    assert "native OR (fwd_set AND" in box
    # native is not applicable: it is listed as a clause that does not hold, with its test and outcome
    root = as_xml(box)
    rows = [["".join(td.itertext()) for td in tr.findall("td")] for tr in root.iter("tr") if tr.find("td")]
    assert any(r[0] == "native" and "RO-NATIVE-01" in r[2] and "not applicable" in r[2] for r in rows)


def test_verdict_box_failure_lists_clause_tests_outcomes_and_escaped_reason() -> None:
    data = run_results(all_pass({"RO-FWD-02": ("fail", f"query returned {EVIL}")})).to_jsonable()
    box = verdict_box_html(data)
    assert "NOT COMPATIBLE" in box and "ro-v-not-compatible" in box
    assert "Exit status:</b> 2" in box
    assert '<a href="#ev-RO-FWD-02">RO-FWD-02</a>' in box
    assert "query returned &lt;script&gt;alert(1)&lt;/script&gt;" in box
    assert_inert(box)
    as_xml(box)


def test_verdict_box_without_tests_says_nothing_was_proven() -> None:
    box = verdict_box_html(run_results([]).to_jsonable())
    assert "UNDETERMINED" in box and "No requirement ran" in box and "Exit status:</b> 3" in box


def test_requirements_table_escapes_every_field() -> None:
    test = outcome("RO-E2E-01", "inconclusive", EVIL).to_jsonable()
    test["title"] = EVIL
    table = requirements_table_html([test])
    assert_inert(table)
    cells = ["".join(td.itertext()) for td in as_xml(table).iter("td")]
    assert cells[:4] == ["RO-E2E-01", EVIL, "advisory", "inconclusive"]
    assert cells[4] == EVIL   # what a reader sees is exactly the original text
    assert 'class="ro-outcome ro-inconclusive"' in table


def test_profile_and_backend_sections_escape() -> None:
    text = f"pbx:\n  name: x  # {EVIL}\n"
    section = profile_html(text, "profiles/<x>.yaml")
    assert_inert(section)
    assert "".join(as_xml(section).find(".//pre").itertext()) == text  # type: ignore[union-attr]
    info = backend_html({"provider": EVIL, "devices": [{"name": EVIL}]})
    assert_inert(info)
    as_xml(info)


def test_evidence_has_inline_ladder_and_log_and_highlights_failure() -> None:
    test = outcome("RO-BLIND-01", "fail", EVIL, records=evil_records(), failed_seq=3).to_jsonable()
    ev = evidence_html(test)
    assert_inert(ev)
    root = as_xml(ev)
    assert root.find(".//{http://www.w3.org/2000/svg}svg") is not None
    assert "expected business number" in "".join(root.find(".//pre").itertext())  # type: ignore[union-attr]
    assert "#d62728" in ev   # the ladder's failure colour: failed_seq / failed records are highlighted
    assert evidence_html(outcome("RO-X", "pass").to_jsonable()) == ""


def test_evidence_section_opens_what_did_not_pass() -> None:
    tests = [outcome("RO-A", "pass", records=evil_records()).to_jsonable(),
             outcome("RO-B", "error", "boom", records=evil_records()).to_jsonable()]
    section = evidence_section_html(tests)
    assert_inert(section)
    details = {d.get("id"): d.get("open") for d in as_xml(section).iter("details") if d.get("id")}
    assert details == {"ev-RO-A": None, "ev-RO-B": "open"}


# --- pytest-html with our hooks ----------------------------------------------------------------------

STAND_IN_SUITE = '''
def test_ok():
    pass

def test_broken():
    assert False, "claim not honoured"
'''


class StandInSuitePlugin:
    """Does what the suite plugin does for the report: a RunResults in the stash, one outcome per test."""

    def __init__(self, key: Any) -> None:
        self.key = key
        self.results = run_results([])

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[self.key] = self.results

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        rid = "RO-FWD-01" if report.nodeid.endswith("test_ok") else "RO-FWD-02"
        result: _results.Outcome = "pass" if report.passed else "fail"
        self.results.tests.append(_results.TestOutcome(
            id=rid, outcome=result, reason="" if report.passed else f"caller was {EVIL}", title=EVIL,
            nodeid=report.nodeid, records=evil_records(), failed_seq=None if report.passed else 4))


@pytest.fixture(scope="module")
def stand_in_page(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One pytest-html run of the stand-in suite (once per module: pytest refuses to import two
    different files under the same module name in one process)."""
    tmp_path = tmp_path_factory.mktemp("standin")
    key = pytest.StashKey[_results.RunResults]()
    (tmp_path / "test_standin.py").write_text(STAND_IN_SUITE)
    profile = tmp_path / "p.yaml"
    profile.write_text(f"pbx:\n  name: '{EVIL}'\n")
    report = tmp_path / "report.html"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(conformance.plugin, "RESULTS_KEY", key, raising=False)
        code = pytest.main([str(tmp_path / "test_standin.py"), "-p", "no:tapi", "-p", "no:cacheprovider",
                            "-c", os.devnull, "--rootdir", str(tmp_path), "-q", "-p", "no:xdist",
                            "--html", str(report), "--self-contained-html"],
                           plugins=[StandInSuitePlugin(key), HtmlReportPlugin("standin", str(profile))])
    assert code == pytest.ExitCode.TESTS_FAILED
    return report.read_text(encoding="utf-8")


def json_blob(page: str) -> dict[str, Any]:
    match = re.search(r'data-jsonblob="([^"]*)"', page)
    assert match
    blob: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return blob


def test_report_page_layout_and_escaping(stand_in_page: str) -> None:
    page = stand_in_page
    assert "<title id=\"head-title\">Remote Office conformance — standin</title>" in page
    verdict = page.index('id="ro-verdict"')
    assert verdict < page.index('id="ro-requirements"') < page.index('id="results-table"')
    assert page.index('id="ro-profile"') < page.index('id="ro-environment"') < page.index('id="ro-evidence"') \
        < page.index('id="results-table"')
    # pytest-metadata's environment moved from the JavaScript table above the verdict into our section
    assert json_blob(page)["environment"] == {}
    assert "Platform" in page[page.index('id="ro-environment"'):page.index('id="ro-evidence"')]
    assert "UNDETERMINED" in page and "Exit status:</b> 2" in page   # a fail, the rest never ran
    assert "<svg" in page   # the evidence section is server-side: it reads without JavaScript
    assert_inert(page)
    assert page.count("<script") == 1   # pytest-html's own app.js, nothing else


def test_evidence_is_stored_once_and_pytest_logs_are_emptied(stand_in_page: str) -> None:
    page = stand_in_page
    blob = json_blob(page)
    rows = {nodeid.split("::")[-1]: entries[0] for nodeid, entries in blob["tests"].items()}
    assert '<td class="col-roOutcome ro-pass">pass</td>' in rows["test_ok"]["resultsTableRow"]
    assert '<td class="col-roRequirement">RO-FWD-02</td>' in rows["test_broken"]["resultsTableRow"]
    # pytest-html's (hidden) table would store each ladder a second time, and a skip's log names local files
    assert all(not entry["log"].strip() or "No log output" in entry["log"] for entry in rows.values())
    evidence = page[page.index('id="ro-evidence"'):]
    assert evidence.count("<svg") == page.count("<svg")
    assert_inert(evidence)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in evidence


def test_failing_evidence_is_open_and_outcome_words_are_ours(stand_in_page: str) -> None:
    page = stand_in_page
    broken = page[page.index('<details id="ev-RO-FWD-02"'):]
    assert broken.startswith('<details id="ev-RO-FWD-02" class="ro-test" open="open">')
    ours = page[page.index('id="ro-verdict"'):page.index('id="ro-requirements"')]
    ours += page[page.index('id="ro-requirements"'):page.index("</section>", page.index('id="ro-requirements"'))]
    shown = re.sub(r"<[^>]+>", " ", ours)
    assert "not-applicable" not in shown and "Skipped" not in shown and "Passed" not in shown
    assert "Requirements (" in page and 'id="ro-show-fail"' in page
