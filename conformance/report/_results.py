"""The results model: per-requirement outcomes, the Remote Office verdict, exit status, results.json.

``results.json`` is the product; the HTML report, JUnit XML and the matrix are views of it.

The verdict is the clause tree of the design (design.md §6)::

    native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND (blind OR consult_in_ringing)
               AND trunks)

evaluated in three-valued logic: a clause is True when every requirement mapped to it passed, False when
one failed or is not applicable (the PBX does not offer it), and unknown (None) when a requirement
errored or was inconclusive and nothing made the clause False. Unknown that could change the result
makes the verdict "undetermined".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "CLAUSES",
    "EMULATION_CLAUSES",
    "EXIT_COMPATIBLE",
    "EXIT_ERRORS",
    "EXIT_MEANINGS",
    "EXIT_NOT_COMPATIBLE",
    "EXIT_NOT_HONOURED",
    "EXIT_NOT_VERIFIED",
    "EXIT_USAGE",
    "REQUIREMENT_CLAUSES",
    "RunResults",
    "TestOutcome",
    "evaluate_clauses",
    "exit_status",
    "ro_verdict",
]

# Exit status of ro-conformance (README, docs/results-format.md); every command takes them from here.
EXIT_COMPATIBLE: Final = 0
EXIT_NOT_COMPATIBLE: Final = 1
EXIT_NOT_HONOURED: Final = 2
EXIT_ERRORS: Final = 3
EXIT_USAGE: Final = 4
EXIT_NOT_VERIFIED: Final = 5
EXIT_MEANINGS: Final[Mapping[int, str]] = {
    EXIT_COMPATIBLE: "compatible, every claim honoured",
    EXIT_NOT_COMPATIBLE: "not compatible, every claim honoured",
    EXIT_NOT_HONOURED: "a claim of the profile is not honoured (a requirement failed)",
    EXIT_ERRORS: "errors or inconclusive results only",
    EXIT_USAGE: "usage or profile error",
    EXIT_NOT_VERIFIED: "verify: the run directory does not verify (edited file or another verdict)",
}

Outcome = Literal["pass", "fail", "inconclusive", "error", "not-applicable"]
OUTCOMES: tuple[Outcome, ...] = ("pass", "fail", "inconclusive", "error", "not-applicable")

CLAUSES = ("native", "fwd_set", "fwd_clear", "fwd_query", "auto_dial", "blind", "consult_in_ringing", "trunks")
EMULATION_CLAUSES = ("fwd_set", "fwd_clear", "fwd_query", "auto_dial", "trunks")

# requirement id -> clause it feeds (None: advisory, checked and reported, not part of the tree)
REQUIREMENT_CLAUSES: Mapping[str, str | None] = {
    "RO-FWD-01": "fwd_set",             # lineForward UNCOND -> RO number accepted
    "RO-FWD-02": "fwd_query",           # lineGetAddressStatus shows the entry
    "RO-FWD-03": None,                  # LINE_ADDRESSSTATE(FORWARD) after the change
    "RO-FWD-04": "fwd_clear",           # lineForward(NULL) accepted
    "RO-FWD-05": "fwd_clear",           # lineGetAddressStatus shows no entry after clearing
    "RO-FWD-06": "fwd_set",             # a call to the business number reaches the RO number
    "RO-ORIG-01": "auto_dial",          # lineMakeCall progresses hands-free, nobody at the desk
    "RO-BLIND-01": "blind",             # lineBlindTransfer of the RO leg, target sees the business number
    "RO-CONS-01": "consult_in_ringing", # lineCompleteTransfer while the consultation call rings
    "RO-TRUNK-01": "trunks",            # two external legs at once
    "RO-NATIVE-01": "native",           # vendor one-number feature through lineDevSpecific
    "RO-E2E-01": None,                  # outbound end to end on the route the profile offers
    "RO-E2E-02": None,                  # inbound end to end via forwarding
    "RO-CAPS-01": None,                 # LINEADDRESSCAPS flags agree with the claims
    "RO-CAPS-02": None,                 # per-state dwCallFeatures agree with what works
}


@dataclass
class TestOutcome:
    """One requirement's result with its evidence."""

    id: str
    outcome: Outcome
    reason: str = ""
    title: str = ""
    nodeid: str = ""
    clause: str | None = None
    duration: float = 0.0
    records: list[dict[str, Any]] = field(default_factory=list)
    failed_seq: int | None = None

    def to_jsonable(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RunResults:
    profile: dict[str, Any]
    backend: dict[str, Any]
    tests: list[TestOutcome] = field(default_factory=list)
    started: str = ""
    finished: str = ""
    certification: dict[str, Any] = field(default_factory=dict)   # conformance._certification

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "format": "ro-conformance-results/1",
            "profile": self.profile,
            "backend": self.backend,
            "certification": self.certification,
            "remote_office": ro_verdict(self.tests),
            "summary": {o: sum(1 for t in self.tests if t.outcome == o) for o in OUTCOMES},
            "exit_status": exit_status(self.tests),
            "started": self.started,
            "finished": self.finished,
            "tests": [t.to_jsonable() for t in sorted(self.tests, key=lambda t: t.id)],
        }


def _clause_value(outcomes: Sequence[Outcome]) -> bool | None:
    if not outcomes:
        return None
    if any(o in ("fail", "not-applicable") for o in outcomes):
        return False
    if all(o == "pass" for o in outcomes):
        return True
    return None


def evaluate_clauses(tests: Iterable[TestOutcome]) -> dict[str, bool | None]:
    by_clause: dict[str, list[Outcome]] = {c: [] for c in CLAUSES}
    for t in tests:
        clause = t.clause if t.clause is not None else REQUIREMENT_CLAUSES.get(t.id)
        if clause in by_clause:
            by_clause[clause].append(t.outcome)
    return {c: _clause_value(v) for c, v in by_clause.items()}


def _and(values: Iterable[bool | None]) -> bool | None:
    vals = list(values)
    if any(v is False for v in vals):
        return False
    return True if all(v is True for v in vals) else None


def _or(values: Iterable[bool | None]) -> bool | None:
    vals = list(values)
    if any(v is True for v in vals):
        return True
    return False if all(v is False for v in vals) else None


def ro_verdict(tests: Sequence[TestOutcome]) -> dict[str, Any]:
    """The Remote Office verdict, the route that carries it, and every clause that failed (with tests)."""
    clauses = evaluate_clauses(tests)
    transfer = _or([clauses["blind"], clauses["consult_in_ringing"]])
    emulated = _and([*(clauses[c] for c in EMULATION_CLAUSES), transfer])
    overall = _or([clauses["native"], emulated])
    route: str | None = None
    if clauses["native"] is True:
        route = "native"
    elif emulated is True:
        route = "blind" if clauses["blind"] is True else "consult"
    verdict = {True: "compatible", False: "not-compatible", None: "undetermined"}[overall]
    failed = []
    for clause, value in clauses.items():
        if value is not True:
            ids = [t.id for t in tests if (t.clause or REQUIREMENT_CLAUSES.get(t.id)) == clause
                   and t.outcome != "pass"]
            failed.append({"clause": clause, "value": value, "tests": sorted(ids),
                           "outcomes": sorted({t.outcome for t in tests if t.id in ids})})
    return {"verdict": verdict, "route": route, "failed_clauses": failed,
            "clauses": clauses, "formula": "native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND "
                                           "(blind OR consult_in_ringing) AND trunks)"}


def exit_status(tests: Sequence[TestOutcome]) -> int:
    """0 compatible and every claim honoured; 1 not compatible, claims honoured; 2 a claim not honoured
    (a fail); 3 errors or inconclusive results left the verdict open or marred the run."""
    outcomes = {t.outcome for t in tests}
    if "fail" in outcomes:
        return EXIT_NOT_HONOURED
    verdict = ro_verdict(tests)["verdict"]
    if verdict == "undetermined" or outcomes & {"error", "inconclusive"}:
        return EXIT_ERRORS
    return EXIT_COMPATIBLE if verdict == "compatible" else EXIT_NOT_COMPATIBLE
