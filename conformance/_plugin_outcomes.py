"""Turning pytest reports into conformance outcomes, and carrying them across pytest-xdist.

A test's verdict is decided from the exception that ended each phase (``_suite_errors`` explains the
mapping) and settled at teardown: a post-condition that breaks turns a pass into an error. The
finished ``TestOutcome`` travels on the teardown report as ``report.tapi_outcome`` (a JSON-able dict:
pytest-xdist serialises unknown report attributes as they are), so the controller builds the run's
results from reports alone, the same way with one process or many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.report._results import REQUIREMENT_CLAUSES, Outcome, TestOutcome
from conformance.suite._errors import HarnessError, Inconclusive, NotApplicable
from simulator._errors import BridgeError, LineError

__all__ = ["ItemState", "classify", "link_verdict", "outcome_from_payload", "requirement_of"]

_NAME_ID = re.compile(r"test_(ro_[a-z]+_\d+)", re.IGNORECASE)
_RANK: dict[str, int] = {"pass": 0, "not-applicable": 1, "inconclusive": 2, "fail": 3, "error": 4}


def requirement_of(item: pytest.Item) -> str | None:
    """The requirement id from ``@pytest.mark.requirement("RO-X-01")``, else from ``test_ro_x_01...``."""
    marker = item.get_closest_marker("requirement")
    if marker is not None and marker.args:
        return str(marker.args[0])
    m = _NAME_ID.match(getattr(item, "originalname", item.name))
    return m.group(1).upper().replace("_", "-") if m else None


def _first_line(text: str) -> str:
    """The docstring's first paragraph on one line (a title that wraps in the source stays whole)."""
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def classify(when: str, excinfo: pytest.ExceptionInfo[BaseException] | None) -> tuple[Outcome, str]:
    """(outcome, reason) of one phase; ``excinfo`` None means the phase passed."""
    if excinfo is None:
        return "pass", ""
    exc = excinfo.value
    text = _first_line(str(getattr(exc, "msg", None) or exc)) or type(exc).__name__
    if isinstance(exc, NotApplicable):
        return "not-applicable", exc.reason
    if isinstance(exc, pytest.skip.Exception):
        return "inconclusive", f"skipped: {text}"
    if when == "call" and isinstance(exc, AssertionError | pytest.fail.Exception):
        return "fail", text
    if isinstance(exc, Inconclusive):
        return "inconclusive", text
    if isinstance(exc, HarnessError):
        return "error", text
    if isinstance(exc, LineError):
        return "error", f"unexpected {text}"
    where = {"setup": "set-up", "teardown": "tear-down"}.get(when, "test")
    if isinstance(exc, BridgeError):
        return "error", f"{where}: the bridge connection died: {text}"
    return "error", f"{where}: {type(exc).__name__}: {text}"


def link_verdict(outcome: Outcome, reason: str, link_down: str) -> tuple[Outcome, str]:
    """(outcome, reason) once the session knows the link died (``link_down``, "" if it did not).

    Nothing judged after a dead link says anything about the PBX: fail and inconclusive become error,
    and every non-pass reason names what died and when (once).
    """
    if not link_down or outcome in ("pass", "not-applicable"):
        return outcome, reason
    if link_down not in reason:
        reason = f"{link_down}; afterwards {reason}" if reason else link_down
    return "error", reason


@dataclass
class ItemState:
    """What the plugin knows of one test while it runs (kept in ``item.stash``)."""

    requirement: str
    outcome: Outcome = "pass"
    reason: str = ""
    duration: float = 0.0
    phases: list[str] = field(default_factory=list)
    unmet_claims: list[str] = field(default_factory=list)
    judged: list[dict[str, Any]] = field(default_factory=list)    # the cites of the verdict kept

    def add(self, when: str, outcome: Outcome, reason: str, duration: float,
            judged: list[dict[str, Any]] | None = None) -> None:
        self.phases.append(when)
        self.duration += duration
        if when == "teardown" and outcome != "pass" and self.outcome != "pass":
            if outcome == "error" and reason and reason not in self.reason:   # keep the verdict, add why
                self.reason = f"{self.reason}; {reason}" if self.reason else reason
            return
        if _RANK[outcome] > _RANK[self.outcome] or (outcome == self.outcome and not self.reason):
            self.outcome, self.reason, self.judged = outcome, reason, list(judged or [])


def make_outcome(item: pytest.Item, state: ItemState, records: list[dict[str, Any]]) -> TestOutcome:
    # the record the verdict blames: the first it cites, else the first marked failed
    failed = next((c["seq"] for c in state.judged if c.get("seq") is not None),
                  next((r["seq"] for r in records if r.get("failed")), None))
    doc = (getattr(getattr(item, "obj", None), "__doc__", None) or "").strip()
    return TestOutcome(id=state.requirement, outcome=state.outcome, reason=state.reason,
                       title=_first_line(doc) or item.name, nodeid=item.nodeid,
                       clause=REQUIREMENT_CLAUSES.get(state.requirement), duration=round(state.duration, 6),
                       records=records, failed_seq=failed, judged=list(state.judged),
                       unmet_claims=list(state.unmet_claims) if state.outcome == "not-applicable" else [])


def outcome_from_payload(data: dict[str, Any]) -> TestOutcome:
    """Inverse of ``TestOutcome.to_jsonable`` (a report that crossed from an xdist worker)."""
    return TestOutcome(**{k: data[k] for k in TestOutcome.__dataclass_fields__ if k in data})
