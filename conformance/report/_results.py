"""The results model: per-requirement outcomes, the Remote Office verdict, exit status, results.json.

``results.json`` is the product; the HTML report, JUnit XML and the matrix are views of it.

The verdict is the clause tree of the design (design.md §6)::

    native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND (blind OR consult_in_ringing)
               AND trunks)

evaluated in three-valued logic. Each requirement says one of four things about its clause:

    pass                                       holds
    fail                                       tried and does not hold          -> clause False ("fails")
    not-applicable for one of the clause's     the profile declares the clause  -> clause False ("unsupported")
      own claims (``CLAUSE_CLAIMS``)             unsupported (an honest "no")
    error, inconclusive, or not-applicable     not judged                       -> clause unknown (None)
      for another clause's claim

A clause is True when every requirement mapped to it passed, False when one failed or declared it
unsupported, and unknown otherwise (also when none ran). A requirement that is not applicable only
because the PBX lacks something *another* clause needs (RO-TRUNK-01 on a PBX without UNCOND forwarding,
RO-FWD-06 on a single-trunk PBX) says nothing about its own clause: that clause is not judged, and the
other clause carries the "no". Unknown that could change the result makes the verdict "undetermined".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = [
    "CLAUSES",
    "CLAUSE_CLAIMS",
    "EMULATION_CLAUSES",
    "EXIT_COMPATIBLE",
    "EXIT_ERRORS",
    "EXIT_MEANINGS",
    "EXIT_NOT_COMPATIBLE",
    "EXIT_NOT_HONOURED",
    "EXIT_NOT_VERIFIED",
    "EXIT_PARTIAL",
    "EXIT_USAGE",
    "REQUIREMENT_CLAUSES",
    "RunResults",
    "TestOutcome",
    "clause_status",
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
EXIT_PARTIAL: Final = 5      # run -k: what ran passed or was not applicable; the verdict was not judged
EXIT_NOT_VERIFIED: Final = 6      # verify: a run directory that does not verify
EXIT_MEANINGS: Final[Mapping[int, str]] = {
    EXIT_COMPATIBLE: "compatible, every claim honoured",
    EXIT_NOT_COMPATIBLE: "not compatible, every claim honoured",
    EXIT_NOT_HONOURED: "a claim of the profile is not honoured (a requirement failed)",
    EXIT_ERRORS: "errors or inconclusive results only",
    EXIT_USAGE: "usage or profile error",
    EXIT_PARTIAL: "partial run (-k): no requirement failed or erred; the verdict was not judged",
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
    "RO-TAPI-01": None,                 # LINE_REPLY before the new call's events; one handle per call
}


# clause -> the profile claims (``tapi_requires`` names, ``trunks>=N`` as "trunks") that declare the clause
# itself. A requirement not applicable for one of these makes the clause "unsupported"; not applicable for
# any other claim it is "not judged" (the claim's own clause says no). Native Remote Office needs two
# external legs as much as the emulation does, and has no trunks clause of its own.
CLAUSE_CLAIMS: Mapping[str, frozenset[str]] = {
    "native": frozenset({"native", "business_number_on_direct", "trunks"}),
    "fwd_set": frozenset({"forwarding"}),
    "fwd_clear": frozenset({"forwarding", "forwarding_clear"}),
    "fwd_query": frozenset({"forwarding", "forwarding_query"}),
    "auto_dial": frozenset({"auto_origination"}),
    "blind": frozenset({"blind_transfer", "business_number_on_blind"}),
    "consult_in_ringing": frozenset({"consultation_in_ringing", "business_number_on_consult"}),
    "trunks": frozenset({"trunks"}),
}

ClauseStatus = Literal["holds", "fails", "unsupported", "undetermined"]


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
    # not-applicable: the ``tapi_requires`` claims the profile does not make (empty: the test body decided)
    unmet_claims: list[str] = field(default_factory=list)
    # what the verdict cites from ``records`` (conformance._evidence.Cite.to_jsonable), the first is blamed
    judged: list[dict[str, Any]] = field(default_factory=list)

    def to_jsonable(self) -> dict[str, Any]:
        """The results.json entry. Shallow: ``records`` are already plain JSON data (the recorder's
        ``to_jsonable``) and are shared, not deep-copied -- ``asdict`` copied every evidence record on
        each call, a third of a run's time."""
        return {name: (list(value) if isinstance(value, list) else value)
                for name, value in ((f, getattr(self, f)) for f in self.__dataclass_fields__)}


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


def _claim_name(claim: str) -> str:
    return "trunks" if claim.replace(" ", "").startswith("trunks>=") else claim


def judgement(test: TestOutcome, clause: str) -> ClauseStatus:
    """What one requirement's outcome says about ``clause`` (see the module docstring)."""
    if test.outcome == "pass":
        return "holds"
    if test.outcome == "fail":
        return "fails"
    if test.outcome == "not-applicable":
        own = CLAUSE_CLAIMS.get(clause, frozenset())
        unmet = {_claim_name(c) for c in test.unmet_claims}
        # no claim named: the test body found the profile does not offer it (a declaration, too)
        return "unsupported" if not unmet or unmet & own else "undetermined"
    return "undetermined"


def _clause_of(test: TestOutcome) -> str | None:
    return test.clause if test.clause is not None else REQUIREMENT_CLAUSES.get(test.id)


def clause_status(tests: Iterable[TestOutcome]) -> dict[str, ClauseStatus]:
    """clause -> holds / fails (a requirement tried, did not hold) / unsupported (declared) / undetermined."""
    seen: dict[str, list[ClauseStatus]] = {c: [] for c in CLAUSES}
    for t in tests:
        clause = _clause_of(t)
        if clause in seen:
            seen[clause].append(judgement(t, clause))
    out: dict[str, ClauseStatus] = {}
    for clause, judged in seen.items():
        if "fails" in judged:
            out[clause] = "fails"
        elif "unsupported" in judged:
            out[clause] = "unsupported"
        elif judged and all(j == "holds" for j in judged):
            out[clause] = "holds"
        else:
            out[clause] = "undetermined"
    return out


_VALUE: Mapping[ClauseStatus, bool | None] = {"holds": True, "fails": False, "unsupported": False,
                                              "undetermined": None}


def evaluate_clauses(tests: Iterable[TestOutcome]) -> dict[str, bool | None]:
    """clause -> True / False / None (unknown), as the formula reads it."""
    return {c: _VALUE[v] for c, v in clause_status(tests).items()}


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
    """The Remote Office verdict, the route that carries it, and every clause that does not hold, in three
    lists: ``failed_clauses`` (a requirement was tried and did not hold), ``unsupported_clauses`` (the
    profile declares it), ``undetermined_clauses`` (could not be judged). Each entry: ``clause``, ``value``,
    ``tests`` (ids), ``outcomes``, ``reasons`` (id -> reason)."""
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
    status = clause_status(tests)
    lists: dict[str, list[dict[str, Any]]] = {"fails": [], "unsupported": [], "undetermined": []}
    for clause, state in status.items():
        if state == "holds":
            continue
        mine = [t for t in tests if _clause_of(t) == clause and judgement(t, clause) == state]
        if state == "undetermined":      # also the requirements that were not judged for another reason
            mine = [t for t in tests if _clause_of(t) == clause and t.outcome != "pass"]
        mine.sort(key=lambda t: t.id)
        lists[state].append({"clause": clause, "value": _VALUE[state], "tests": [t.id for t in mine],
                             "outcomes": sorted({t.outcome for t in mine}),
                             "reasons": {t.id: t.reason for t in mine}})
    return {"verdict": verdict, "route": route,
            "failed_clauses": lists["fails"], "unsupported_clauses": lists["unsupported"],
            "undetermined_clauses": lists["undetermined"], "clause_status": status,
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
