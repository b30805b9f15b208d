"""The few lines a person reads at the end of a run, shared by ``ro-conformance run`` and the pytest
plugin's terminal summary: verdict, route, the clauses that do not hold with their tests, exit status.

A run that selected a subset of the requirements (``-k``) is a *partial run*: its clause tree is not the
suite's, so no verdict is judged and the exit status is ``EXIT_PARTIAL`` unless something failed (2) or
erred / was inconclusive (3), which a subset can prove as well as the whole.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.report._files import status_of
from conformance.report._results import (
    EXIT_COMPATIBLE,
    EXIT_MEANINGS,
    EXIT_NOT_COMPATIBLE,
    EXIT_PARTIAL,
    REQUIREMENT_CLAUSES,
)

__all__ = ["partial_note", "run_status", "summary_lines"]

_CLAUSE_LISTS = (("failed_clauses", "clauses tried that do not hold"),
                 ("unsupported_clauses", "clauses the profile declares unsupported"),
                 ("undetermined_clauses", "clauses not judged"))


def partial_note(data: Mapping[str, Any], keyword: str | None) -> str:
    """``"partial run: 3 of 15 requirements; verdict not judged"`` for a ``-k`` subset, else ``""``."""
    if not keyword:
        return ""
    ran = {str(t.get("id")) for t in data.get("tests", [])}
    total = len(REQUIREMENT_CLAUSES)
    if len(ran & set(REQUIREMENT_CLAUSES)) >= total:
        return ""
    return f"partial run: {len(ran)} of {total} requirements; verdict not judged"


def run_status(data: Mapping[str, Any], keyword: str | None) -> int:
    """The exit status of a run: ``status_of`` the results, ``EXIT_PARTIAL`` for a partial run that
    would otherwise claim a verdict (0 / 1) or none (3 only because clauses were never tried)."""
    status = status_of(data)
    if not partial_note(data, keyword):
        return status
    outcomes = {str(t.get("outcome")) for t in data.get("tests", [])}
    if status in (EXIT_COMPATIBLE, EXIT_NOT_COMPATIBLE) or not outcomes & {"fail", "error", "inconclusive"}:
        return EXIT_PARTIAL
    return status


def summary_lines(data: Mapping[str, Any], keyword: str | None = None) -> list[str]:
    """Verdict (or the partial-run note), route, clauses that do not hold with their tests, exit status."""
    status = run_status(data, keyword)
    partial = partial_note(data, keyword)
    lines = []
    if partial:
        lines.append(partial)
    else:
        ro = data["remote_office"]
        outcomes = {t["id"]: t["outcome"] for t in data["tests"]}
        lines.append(f"Remote Office verdict: {ro['verdict']}   route: {ro.get('route') or 'none'}")
        aside = " (not needed for this verdict)" if ro["verdict"] == "compatible" else ""
        for key, heading in _CLAUSE_LISTS:
            if ro.get(key):
                lines.append(f"{heading}{aside}:")
            for entry in ro.get(key, []):
                tests = ", ".join(f"{t} ({outcomes.get(t, '?')})" for t in entry["tests"]) or "no test ran"
                lines.append(f"  {entry['clause']}: {tests}")
    # Why each requirement was not judged: the console shows pytest's details only for fails (the plugin
    # reports inconclusive phases under their own word), so the reason of the others is said here.
    open_tests = [t for t in data.get("tests", []) if t.get("outcome") in ("inconclusive", "error")]
    if open_tests:
        lines.append("why not judged:")
    for t in open_tests:
        reason = " ".join(str(t.get("reason") or "no reason recorded").split())
        lines.append(f"  {t['id']} ({t['outcome']}): {_shorten(reason, _REASON_WIDTH)}")
    lines.append(f"exit status {status}: {EXIT_MEANINGS.get(status, '?')}")
    return lines


_REASON_WIDTH = 240      # characters; the whole reason is in results.json and the report


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1].rstrip() + "…"
