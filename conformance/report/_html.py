"""The report.html view of a run: pytest-html 4.x hooks plus the HTML pieces they insert.

``ro-conformance run`` registers one ``HtmlReportPlugin`` through ``pytest.main(..., plugins=[...])``, so
none of this is active in anybody else's pytest session. Layout of the page (docs/results-format.md):

1. summary prefix: our style sheet, the verdict box (verdict, route, exit status, clauses that do not hold
   with their tests and outcomes, the formula; or the partial-run note), then the per-requirement table
   with its outcome filters (plain CSS, no script);
2. summary postfix: the profile (YAML text), the backend / provider info, and the evidence of every
   requirement (ladder SVG + raw log) in ``<details>`` blocks, open when the requirement did not pass;
3. pytest-html's own run count, filters and results table are hidden (they count pytest's tests in
   pytest's words); their per-test logs are emptied, the evidence is stored once, in 2.

Everything is rendered server-side, so the page reads without JavaScript. The outcome words are ISO 9646's
(pass, fail, inconclusive, error, not applicable), never pytest's. No local file-system path goes into the
page: the profile is named by its file name. Every string that came from the PBX, the profile or a reason is
escaped here (``html.escape``) or by ``_ladder`` -- a PBX picks caller names, and a report must survive
``<script>``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import pytest

from conformance._certification import certification_html
from conformance._recorder import records_from_jsonable
from conformance.report._files import evidence_anchor
from conformance.report._ladder import judged_kinds, render_ladder, render_log_html
from conformance.report._results import EXIT_MEANINGS, OUTCOMES, RunResults, TestOutcome
from conformance.report._summary import partial_note, run_status

__all__ = [
    "EXIT_MEANINGS",
    "HtmlReportPlugin",
    "backend_html",
    "evidence_html",
    "evidence_section_html",
    "outcome_word",
    "profile_html",
    "requirements_table_html",
    "verdict_box_html",
]

_VERDICT_WORD: Final = {"compatible": "COMPATIBLE", "not-compatible": "NOT COMPATIBLE",
                        "undetermined": "UNDETERMINED"}
_CLAUSE_VALUE: Final = {True: "holds", False: "does not hold", None: "undetermined"}


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _css_token(text: str) -> str:
    """A value safe in a class name or an id (letters, digits, '-', '_')."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)


def _anchor(test_id: str) -> str:
    return evidence_anchor(test_id)


def outcome_word(outcome: str) -> str:
    """The outcome as people read it: ``not-applicable`` (the results.json value) is "not applicable"."""
    return outcome.replace("-", " ")


def _outcome_span(outcome: str) -> str:
    return f'<span class="ro-outcome ro-{_css_token(outcome)}">{_esc(outcome_word(outcome))}</span>'


# --- the verdict box ---------------------------------------------------------------------------------


_CLAUSE_LISTS: Final = (("failed_clauses", "Clauses tried that do not hold"),
                         ("unsupported_clauses", "Clauses the profile declares unsupported"),
                         ("undetermined_clauses", "Clauses not judged"))


def _clause_rows(entries: Sequence[Mapping[str, Any]], by_id: Mapping[str, Mapping[str, Any]]) -> str:
    rows = []
    for entry in entries:
        tests = []
        for tid in entry.get("tests", []):
            test = by_id.get(tid, {})
            tests.append(f'<a href="#{_anchor(tid)}">{_esc(tid)}</a> {_outcome_span(test.get("outcome", "?"))}'
                         f'<span class="ro-reason">{_esc(test.get("reason", ""))}</span>')
        value = entry.get("value")
        rows.append(f'<tr><td><code>{_esc(entry.get("clause"))}</code></td>'
                    f'<td>{_esc(_CLAUSE_VALUE.get(value, value))}</td>'
                    f'<td>{"<br/>".join(tests) or "no requirement of this clause ran"}</td></tr>')
    return "".join(rows)


def _clause_tables(ro: Mapping[str, Any], by_id: Mapping[str, Mapping[str, Any]]) -> str:
    """One table per list that has entries: tried and failed, declared unsupported, not judged."""
    out = []
    for key, heading in _CLAUSE_LISTS:
        rows = _clause_rows(ro.get(key, []), by_id)
        if rows:
            out.append(f'<h3>{_esc(heading)}</h3><table class="ro-failed ro-{_css_token(key)}"><thead><tr>'
                       f"<th>clause</th><th>value</th><th>requirements</th></tr></thead><tbody>{rows}</tbody></table>")
    return "".join(out) or "<h3>Clauses</h3><p>Every clause holds.</p>"


def verdict_box_html(data: Mapping[str, Any], keyword: str | None = None) -> str:
    """The verdict box from a results.json mapping (``RunResults.to_jsonable()``); ``keyword`` is the
    run's ``-k`` selection (a partial run gets no verdict)."""
    ro: Mapping[str, Any] = data.get("remote_office", {})
    verdict = str(ro.get("verdict", "undetermined"))
    status = run_status(data, keyword)
    partial = partial_note(data, keyword)
    if partial:
        return (f'<section id="ro-verdict" class="ro-verdict ro-v-undetermined">'
                f'<h2>Remote Office verdict: <span class="ro-verdict-word">NOT JUDGED</span></h2>'
                f'<p class="ro-partial">{_esc(partial)} (selection: <code>-k {_esc(keyword)}</code>).</p>'
                f"<p><b>Exit status:</b> {status}: {_esc(EXIT_MEANINGS.get(status, '?'))}</p></section>")
    by_id = {str(t.get("id")): t for t in data.get("tests", [])}
    empty = "" if by_id else '<p class="ro-warning">No requirement ran: nothing was proven.</p>'
    return (
        f'<section id="ro-verdict" class="ro-verdict ro-v-{_css_token(verdict)}">'
        f'<h2>Remote Office verdict: <span class="ro-verdict-word">{_esc(_VERDICT_WORD.get(verdict, verdict))}'
        f"</span></h2>{empty}"
        f'<p><b>Route:</b> {_esc(ro.get("route") or "none")} &#183; '
        f"<b>Exit status:</b> {status}: {_esc(EXIT_MEANINGS.get(status, '?'))}</p>"
        f"{_clause_tables(ro, by_id)}"
        f'<p class="ro-formula"><b>Formula:</b> <code>{_esc(ro.get("formula", ""))}</code></p>'
        "</section>")


def _filters_html(tests: Sequence[Mapping[str, Any]]) -> str:
    """One checkbox per outcome, with its count; unchecking hides those rows (CSS ``:has``, no script)."""
    boxes = []
    for outcome in OUTCOMES:
        count = sum(1 for t in tests if t.get("outcome") == outcome)
        token = _css_token(outcome)
        disabled = ' disabled="disabled"' if not count else ""
        boxes.append(f'<label class="ro-filter"><input type="checkbox" id="ro-show-{token}" checked="checked"'
                     f'{disabled}/> {count} {_esc(outcome_word(outcome))}</label>')
    return f'<p class="ro-filters">Show: {" ".join(boxes)}</p>'


def requirements_table_html(tests: Sequence[Mapping[str, Any]]) -> str:
    """One row per requirement: id (linking to its evidence), title, clause, outcome, reason, time; the
    outcome filters right above the table."""
    rows = []
    for t in tests:
        tid = str(t.get("id", ""))
        rows.append(
            f'<tr class="ro-row-{_css_token(str(t.get("outcome", "")))}">'
            f'<td><a href="#{_anchor(tid)}">{_esc(tid)}</a></td><td>{_esc(t.get("title", ""))}</td>'
            f'<td>{_esc(t.get("clause") or "advisory")}</td><td>{_outcome_span(str(t.get("outcome", "?")))}</td>'
            f'<td class="ro-reason">{_esc(t.get("reason", ""))}</td>'
            f'<td>{float(t.get("duration") or 0.0):.3f}</td></tr>')
    return (f'<section id="ro-requirements"><h2>Requirements ({len(tests)})</h2>{_filters_html(tests)}'
            '<table class="ro-requirements">'
            "<thead><tr><th>id</th><th>title</th><th>clause</th><th>outcome</th><th>reason</th>"
            f"<th>seconds</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>")


# --- profile, backend, evidence ------------------------------------------------------------------------


def profile_html(text: str, path: str = "") -> str:
    """The profile's YAML text under its file name (never the directory: no local path in a report)."""
    name = Path(path.replace("\\", "/")).name if path else ""
    where = f" <small>({_esc(name)})</small>" if name else ""
    return (f'<section id="ro-profile"><h2>Profile{where}</h2>'
            f'<pre class="ro-profile-text">{_esc(text)}</pre></section>')


def _info_value(value: Any, depth: int = 0) -> str:
    if isinstance(value, str):
        return _esc(value)
    if isinstance(value, Mapping) and depth < 3:   # backend.info() nests (provider, lines, ...)
        return _info_table(value, depth + 1)
    return f"<code>{_esc(json.dumps(value, ensure_ascii=False, default=str))}</code>"


def _info_table(info: Mapping[str, Any], depth: int = 0) -> str:
    rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_info_value(v, depth)}</td></tr>" for k, v in info.items())
    return f'<table class="ro-backend">{rows}</table>'


def backend_html(info: Mapping[str, Any]) -> str:
    """results.json's ``backend`` object (spec, name, and what ``backend.info()`` said) as nested tables."""
    return f'<section id="ro-backend"><h2>Backend and provider</h2>{_info_table(info)}</section>'


def evidence_html(test: Mapping[str, Any]) -> str:
    """The ladder SVG and the raw log of one requirement (empty string when nothing was recorded)."""
    recs = records_from_jsonable(test.get("records") or [])
    if not recs:
        return ""
    failed_seq = test.get("failed_seq")
    blamed = None if failed_seq is None else int(failed_seq)
    ladder = render_ladder(recs, failed_seq=blamed, judged=judged_kinds(test.get("judged") or ()))
    # a passing (or not applicable) test's set-up and clean-up lines are one line each: results.json has
    # them all, and fifteen copies of the same lineInitializeEx would double the page
    settled = test.get("outcome") in ("pass", "not-applicable")
    log = render_log_html(recs, fold=settled, failed_seq=blamed)
    # the title is the <summary> of the block around this (HTML: it wraps where the SVG would cut it)
    return ('<div class="ro-evidence">'
            f'<div class="ro-ladder">{ladder}</div>'
            f"<details><summary>raw log</summary>{log}</details></div>")


def evidence_section_html(tests: Sequence[Mapping[str, Any]]) -> str:
    """Every requirement's evidence in a ``<details>`` block, open when it did not pass."""
    blocks = []
    for t in tests:
        tid, outcome = str(t.get("id", "")), str(t.get("outcome", "?"))
        body = evidence_html(t) or "<p>Nothing was recorded.</p>"
        opened = "" if outcome in ("pass", "not-applicable") else ' open="open"'
        reason = t.get("reason", "")
        blocks.append(f'<details id="{_anchor(tid)}" class="ro-test"{opened}><summary>{_esc(tid)} '
                      f'{_outcome_span(outcome)} {_esc(t.get("title", ""))}</summary>'
                      + (f'<p class="ro-reason">{_esc(reason)}</p>' if reason else "") + f"{body}</details>")
    return f'<section id="ro-evidence"><h2>Evidence</h2>{"".join(blocks)}</section>'


# --- the pytest-html plugin ----------------------------------------------------------------------------


def _stash_key(name: str) -> Any:
    """``conformance.plugin.<name>`` if the suite plugin defines it (it is imported lazily: no cycle)."""
    try:
        from conformance import plugin
    except ImportError:
        return None
    return getattr(plugin, name, None)


class HtmlReportPlugin:
    """pytest-html hooks for one ``ro-conformance run``; pass an instance to ``pytest.main(plugins=...)``."""

    def __init__(self, profile_name: str, profile_path: str | None = None, css: str = "") -> None:
        self.css = css
        self.profile_name = profile_name
        self.profile_path = profile_path
        self._config: pytest.Config | None = None
        self._environment: dict[str, Any] = {}

    def pytest_configure(self, config: pytest.Config) -> None:
        self._config = config

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # pytest-html draws pytest-metadata's environment table above everything (with JavaScript);
        # the verdict must come first, so take the data over and show it after the backend instead.
        try:
            from pytest_metadata.plugin import metadata_key  # type: ignore[import-untyped]
        except ImportError:
            return
        metadata = session.config.stash.get(metadata_key, None)
        if metadata:
            self._environment = dict(metadata)
            metadata.clear()

    def _results(self) -> RunResults | None:
        key = _stash_key("RESULTS_KEY")
        if self._config is None or key is None:
            return None
        found = self._config.stash.get(key, None)
        return found if isinstance(found, RunResults) else None

    def _outcome(self, nodeid: str) -> TestOutcome | None:
        results = self._results()
        if results is None:
            return None
        return next((t for t in results.tests if t.nodeid == nodeid), None)

    def _data(self, results: RunResults | None) -> dict[str, Any]:
        """results.json's data, serialised once by the suite plugin's collector (evidence is large)."""
        if results is None or self._config is None:
            return {"remote_office": {}, "tests": []}
        collector = self._config.pluginmanager.get_plugin("tapi-results-collector")
        if collector is not None and hasattr(collector, "jsonable_results"):
            return dict(collector.jsonable_results())
        return results.to_jsonable()

    def _profile_text(self, results: RunResults | None) -> tuple[str, str]:
        path = self.profile_path or (str(results.profile.get("path", "")) if results else "")
        if not path:
            return "(profile path unknown)", ""
        try:
            return Path(path).read_text(encoding="utf-8"), path
        except (OSError, UnicodeDecodeError) as exc:
            return f"(profile could not be read: {exc})", path

    # pytest-html hooks (called on the controller only, also under xdist)

    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"Remote Office conformance — {self.profile_name}"

    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: pytest.Session) -> None:
        results = self._results()
        data = self._data(results)
        keyword = getattr(session.config.option, "keyword", None) or None
        if self.css:
            prefix.append(f"<style>{self.css}</style>")
        prefix.append(verdict_box_html(data, keyword))
        prefix.append(certification_html(data.get("certification") or {}))
        prefix.append(requirements_table_html(data["tests"]))
        text, path = self._profile_text(results)
        postfix.append(profile_html(text, path))
        postfix.append(backend_html(results.backend if results is not None else {}))
        if self._environment:
            postfix.append(f'<section id="ro-environment"><h2>Environment</h2>{_info_table(self._environment)}'
                           "</section>")
        postfix.append(evidence_section_html(data["tests"]))

    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells.insert(1, '<th class="sortable" data-column-type="roOutcome">RO outcome</th>')
        cells.insert(2, '<th class="sortable" data-column-type="roRequirement">Requirement</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list[str]) -> None:
        found = self._outcome(report.nodeid)
        props = dict(p for p in getattr(report, "user_properties", ()) if isinstance(p, tuple) and len(p) == 2)
        outcome = found.outcome if found else str(props.get("ro_outcome", ""))
        requirement = found.id if found else str(props.get("ro_requirement", ""))
        cells.insert(1, f'<td class="col-roOutcome ro-{_css_token(outcome)}">{_esc(outcome_word(outcome))}</td>')
        cells.insert(2, f'<td class="col-roRequirement">{_esc(requirement)}</td>')

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list[str]) -> None:
        # The evidence section holds each requirement's ladder and log once; pytest's own log of the test
        # would store it a second time (and a skip's log names files on this machine).
        if self._outcome(report.nodeid) is not None:
            data.clear()
