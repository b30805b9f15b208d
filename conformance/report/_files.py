"""results.json on disk, and the cross-profile matrix (HTML and Markdown) built from several of them.

``results.json`` is the product (design.md §7); everything here reads it back rather than trusting a
process's exit code, so a matrix can be rebuilt from report directories alone. The format is documented
in docs/results-format.md.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from conformance.report._cells import LEGEND, clause_cell
from conformance.report._results import CLAUSES, REQUIREMENT_CLAUSES, RunResults, TestOutcome, exit_status

__all__ = [
    "LEGEND",
    "RESULTS_FORMAT",
    "MatrixRow",
    "ResultsFileError",
    "evidence_anchor",
    "outcomes_from_jsonable",
    "read_results",
    "render_matrix_html",
    "render_matrix_md",
    "safe_dirname",
    "status_of",
    "write_results",
]

RESULTS_FORMAT: Final = "ro-conformance-results/1"

# Columns of the matrix after the profile name: every clause, then the verdict and the route.
MATRIX_CLAUSES: Final = CLAUSES


class ResultsFileError(Exception):
    """results.json is missing, unreadable, or not in a format this version understands."""


def write_results(results: RunResults, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write ``results.to_jsonable()`` to ``path`` (atomically: temp file then rename); return the data."""
    data = results.to_jsonable()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    return data


def read_results(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and sanity-check a results.json; raises ``ResultsFileError`` saying what is wrong."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultsFileError(f"{p}: no results were written (did the suite run at all?)") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsFileError(f"{p}: unreadable results file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ResultsFileError(f"{p}: format {found!r} is not {RESULTS_FORMAT!r}")
    if not isinstance(data.get("tests"), list) or not isinstance(data.get("remote_office"), dict):
        raise ResultsFileError(f"{p}: 'tests' list or 'remote_office' object missing")
    return data


def outcomes_from_jsonable(tests: Sequence[Mapping[str, Any]]) -> list[TestOutcome]:
    """The ``tests`` list of a results.json back as ``TestOutcome`` objects (unknown keys ignored)."""
    out = []
    for t in tests:
        failed_seq = t.get("failed_seq")
        out.append(TestOutcome(
            id=str(t["id"]), outcome=t["outcome"], reason=str(t.get("reason") or ""),
            title=str(t.get("title") or ""), nodeid=str(t.get("nodeid") or ""), clause=t.get("clause"),
            duration=float(t.get("duration") or 0.0), records=list(t.get("records") or []),
            failed_seq=None if failed_seq is None else int(failed_seq), judged=list(t.get("judged") or [])))
    return out


def status_of(data: Mapping[str, Any]) -> int:
    """The exit status a results.json stands for, recomputed from its tests by ``_results.exit_status``.

    Recomputing (rather than trusting the stored ``exit_status``) keeps one definition of the rule. An
    empty run proves nothing: every clause is undetermined, so ``exit_status`` already gives 3.
    """
    return exit_status(outcomes_from_jsonable(data.get("tests", [])))


def safe_dirname(name: str) -> str:
    """A profile name as one harmless path component (profile names are slugs, but reports outlive that)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-")
    return cleaned or "profile"


# --- the matrix --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixRow:
    """One profile's line: where its reports are, and its results (None when the run produced none)."""

    profile: str
    report_dir: str          # relative to the matrix file, forward slashes
    status: int
    results: Mapping[str, Any] | None = None
    problem: str = ""        # why there are no results (profile error, backend unavailable, ...)


_VERDICT_CLASS: Final = {"compatible": "pass", "not-compatible": "fail", "undetermined": "open"}
_STATE_CLASS: Final = {"available": "pass", "failed": "fail", "not-possible": "no", "not-documented": "undoc",
                       "not-tested": "open"}


def evidence_anchor(test_id: str) -> str:
    """The id of a requirement's evidence block in report.html (``ev-RO-FWD-01``); the matrix links to it."""
    return "ev-" + re.sub(r"[^A-Za-z0-9_-]", "-", test_id)


def _clause_evidence(clause: str, failing: Sequence[str], ran: Sequence[str]) -> str:
    """The requirement whose evidence a clause's cell links to: the first that did not hold, else the
    first of the clause that ran ("" when none did)."""
    if failing:
        return failing[0]
    return next((tid for tid in sorted(ran) if REQUIREMENT_CLAUSES.get(tid) == clause), "")


def _clause_cells(row: MatrixRow) -> list[tuple[str, str, str, str]]:
    """(css class, symbol, tooltip, requirement id to link to, or "") per clause; the states and marks are
    ``_cells.LEGEND``'s (estos vocabulary: available, tested - failed, not possible, not documented, not
    tested)."""
    if row.results is None:
        return [("none", "—", row.problem, "") for _ in MATRIX_CLAUSES]
    ran = [str(t.get("id")) for t in row.results.get("tests", [])]
    cells = []
    for clause in MATRIX_CLAUSES:
        cell = clause_cell(row.results, clause)
        tip = f"{clause}: {cell.label}" + (f" — {cell.detail}" if cell.state != "available" else "")
        cells.append((_STATE_CLASS[cell.state], cell.symbol, tip, _clause_evidence(clause, cell.tests, ran)))
    return cells


def _verdict(row: MatrixRow) -> tuple[str, str]:
    if row.results is None:
        return "error", "—"
    ro = row.results["remote_office"]
    return str(ro.get("verdict")), str(ro.get("route") or "—")


def _linked(row: MatrixRow, inner_html: str, test_id: str = "") -> str:
    """``inner_html`` as a link to the row's report (at ``test_id``'s evidence when given), or as it is
    when the run wrote none."""
    if row.results is None:
        return inner_html
    target = row.report_dir + "/report.html" + (f"#{evidence_anchor(test_id)}" if test_id else "")
    return f'<a href="{html.escape(target, quote=True)}">{inner_html}</a>'


def render_matrix_html(rows: Sequence[MatrixRow], *, title: str = "Remote Office compatibility matrix") -> str:
    """A standalone HTML page (inline CSS, no script): one row per profile, cells linking to its report."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in MATRIX_CLAUSES)
    body = []
    for row in rows:
        cells = "".join(f'<td class="{css}" title="{esc(tip, quote=True)}">{_linked(row, sym, tid)}</td>'
                        for css, sym, tip, tid in _clause_cells(row))
        verdict, route = _verdict(row)
        vclass = _VERDICT_CLASS.get(verdict, "none")
        problem = f'<div class="problem">{esc(row.problem)}</div>' if row.problem else ""
        body.append(f'<tr><th scope="row">{_linked(row, esc(row.profile))}{problem}</th>{cells}'
                    f'<td class="verdict {vclass}">{esc(verdict)}</td><td>{esc(route)}</td>'
                    f'<td>{row.status}</td></tr>')
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"/>"
        f"<title>{esc(title)}</title><style>{_MATRIX_CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="legend">{esc(_LEGEND_TEXT)} · — no results</p>'
        "<p>Verdict: <code>native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND "
        "(blind OR consult_in_ringing) AND trunks)</code>. A clause's cell opens the evidence of its "
        "requirement in the profile's report; the profile's name opens the report.</p>"
        f'<table class="matrix"><thead><tr><th>profile</th>{head}<th>verdict</th><th>route</th>'
        f"<th>exit</th></tr></thead><tbody>{''.join(body)}</tbody></table></body></html>\n")


def _md(text: str) -> str:
    """Markdown table cell text: no pipes, no newlines, no HTML."""
    return html.escape(text.replace("|", "\\|").replace("\n", " "), quote=False)


def render_matrix_md(rows: Sequence[MatrixRow]) -> str:
    """The same matrix as a GitHub-flavoured Markdown table (profile names link to the reports)."""
    cols = ["profile", *MATRIX_CLAUSES, "verdict", "route", "exit"]
    lines = ["# Remote Office compatibility matrix", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in rows:
        verdict, route = _verdict(row)
        syms = [sym for _, sym, _, _ in _clause_cells(row)]
        name = f"[{_md(row.profile)}]({row.report_dir}/report.html)" if row.results is not None else _md(row.profile)
        lines.append("| " + " | ".join([name, *syms, _md(verdict), _md(route), str(row.status)]) + " |")
    lines += ["", f"{_LEGEND_TEXT} · — no results", ""]
    lines += [f"- {_md(row.profile)}: {_md(row.problem)}" for row in rows if row.problem]
    return "\n".join(lines) + "\n"


_LEGEND_TEXT: Final = " · ".join(f"{LEGEND[s][0]} {LEGEND[s][1]}" for s in _STATE_CLASS)

_MATRIX_CSS: Final = (
    "body{font-family:Helvetica,Arial,sans-serif;margin:1.5em}"
    "table.matrix{border-collapse:collapse}"
    "table.matrix th,table.matrix td{border:1px solid #bbb;padding:4px 8px;text-align:center}"
    "table.matrix th[scope=row]{text-align:left}"
    "td a{color:inherit;text-decoration:none;display:block}"
    ".pass{background:#dcfce7;color:#166534}.fail{background:#fee2e2;color:#991b1b}"
    ".open{background:#fef9c3;color:#854d0e}.undoc{background:#e0e7ff;color:#3730a3}"
    ".no{background:#f3f4f6;color:#4b5563}"
    ".none,.error{background:#e5e7eb;color:#374151}"
    ".verdict{font-weight:bold}.problem{font-size:smaller;color:#991b1b;font-weight:normal}")
