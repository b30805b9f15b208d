"""What one clause of one results.json means for a compatibility matrix cell, in the estos vocabulary.

The estos knowledge base marks each PBX feature *available*, *planned*, *not relevant*, *not possible for
technical reasons* or *not tested*. A suite run can say more precisely why a feature is not available, so
a cell is one of the states below (docs/matrix.md shows the legend):

``available``      every requirement of the clause passed
``failed``         a requirement failed: the PBX claims the feature and does not deliver it (evidence linked)
``not-possible``   the profile documents that the PBX does not offer it (requirements not applicable)
``not-documented`` no source decides the claim it rests on (profile value ``undocumented``): not judged
``not-tested``     nothing judged it: errors, inconclusive waits, or no run at all

*planned* and *not relevant* are editorial judgements (a vendor roadmap, a reseller's view of a route);
no test run can produce them, so they appear in the legend only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from conformance.report._results import REQUIREMENT_CLAUSES
from conformance.suite._claims import UNDOCUMENTED_PREFIX

__all__ = ["LEGEND", "Cell", "clause_cell", "failed_tests"]

# state -> (symbol, estos wording / ours, what it means)
LEGEND: Final[Mapping[str, tuple[str, str, str]]] = {
    "available": ("✔", "available", "every requirement of the clause passed"),
    "failed": ("✘", "tested — failed",
               "a requirement failed: the PBX claims the feature but does not deliver it (click for evidence)"),
    "not-possible": ("○", "not possible for technical reasons",
                     "the profile says the PBX does not offer it (requirements not applicable)"),
    "not-documented": ("ND", "not documented",
                       "no public source decides the claim (profile value `undocumented`): not judged"),
    "not-tested": ("?", "not tested", "nothing judged it (error, inconclusive, or no results)"),
    "planned": ("P", "planned", "a vendor's roadmap statement; never produced by a test run"),
    "not-relevant": ("-", "not relevant", "an editorial judgement; never produced by a test run"),
}


@dataclass(frozen=True)
class Cell:
    state: str                  # a key of LEGEND
    tests: tuple[str, ...]      # requirement ids behind a state other than "available"
    detail: str                 # one line: which tests and why

    @property
    def symbol(self) -> str:
        return LEGEND[self.state][0]

    @property
    def label(self) -> str:
        return LEGEND[self.state][1]


def _tests_of(results: Mapping[str, Any], clause: str) -> list[Mapping[str, Any]]:
    return [t for t in results.get("tests", [])
            if (t.get("clause") or REQUIREMENT_CLAUSES.get(str(t.get("id")))) == clause]


def failed_tests(results: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every test of the run whose outcome is ``fail`` (clause or advisory), sorted by id."""
    return sorted((t for t in results.get("tests", []) if t.get("outcome") == "fail"), key=lambda t: str(t["id"]))


def clause_cell(results: Mapping[str, Any] | None, clause: str) -> Cell:
    """The cell of ``clause`` for one run's results.json (None: the run produced none)."""
    if results is None:
        return Cell("not-tested", (), "no results")
    ro = results.get("remote_office", {})
    value = ro.get("clauses", {}).get(clause)
    status = ro.get("clause_status", {}).get(clause)   # holds / fails / unsupported / undetermined, if written
    tests = _tests_of(results, clause)
    open_ = [t for t in tests if t.get("outcome") != "pass"]
    ids = tuple(sorted(str(t["id"]) for t in open_))
    why = "; ".join(f"{t['id']} {t.get('outcome')}: {t.get('reason') or ''}".strip() for t in open_)
    if value is True:
        return Cell("available", (), "every requirement passed")
    if status == "fails" or any(t.get("outcome") == "fail" for t in tests):
        return Cell("failed", ids, why)
    if status == "unsupported" or (status is None and value is False):
        return Cell("not-possible", ids, why)
    if open_ and all(t.get("outcome") == "inconclusive" and str(t.get("reason", "")).startswith(UNDOCUMENTED_PREFIX)
                     for t in open_):
        return Cell("not-documented", ids, why)
    return Cell("not-tested", ids, why or "no requirement of this clause ran")


def row_cells(results: Mapping[str, Any] | None, clauses: Sequence[str]) -> list[Cell]:
    return [clause_cell(results, c) for c in clauses]
