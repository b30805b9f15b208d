"""Hand-made RunResults / TestOutcome objects for the report tests (no suite needed)."""

from __future__ import annotations

from typing import Any

from conformance.report._results import REQUIREMENT_CLAUSES, RunResults, TestOutcome

EVIL = '<script>alert(1)</script> "O\'Brien" & <img src=x onerror=alert(2)>'


def record(seq: int, kind: str, text: str, *, actor: str = "app", function: str = "",
           failed: bool = False) -> dict[str, Any]:
    return {"seq": seq, "time": seq * 0.25, "kind": kind, "function": function, "actor": actor,
            "args": [], "result": "", "request_id": 0, "text": text, "failed": failed, "message": None}


def evil_records() -> list[dict[str, Any]]:
    return [
        record(1, "request", f"lineMakeCall(dest='{EVIL}')", function="lineMakeCall"),
        record(2, "return", "lineMakeCall -> req 1", function="lineMakeCall"),
        record(3, "party", f"target observes caller id {EVIL}", actor="target"),
        record(4, "note", f"expected business number, got {EVIL}", failed=True),
    ]


def outcome(rid: str, result: str = "pass", reason: str = "", **kw: Any) -> TestOutcome:
    return TestOutcome(id=rid, outcome=result, reason=reason, title=f"title of {rid}",  # type: ignore[arg-type]
                       nodeid=f"conformance/suite/test_x.py::test_{rid.replace('-', '_')}", **kw)


def all_pass(except_: dict[str, tuple[str, str]] | None = None) -> list[TestOutcome]:
    """Every requirement passing, except the given id -> (outcome, reason); native not applicable."""
    overrides = {"RO-NATIVE-01": ("not-applicable", "profile: no native Remote Office"), **(except_ or {})}
    out = []
    for rid in REQUIREMENT_CLAUSES:
        result, reason = overrides.get(rid, ("pass", ""))
        out.append(outcome(rid, result, reason, records=[record(1, "request", "lineOpen(...)")]))
    return out


def run_results(tests: list[TestOutcome], name: str = "reference") -> RunResults:
    return RunResults(profile={"name": name, "path": f"profiles/{name}.yaml"},
                      backend={"backend": "sim", "provider": EVIL, "lines": [1, 2]},
                      tests=tests, started="2024-01-01T00:00:00Z", finished="2024-01-01T00:00:05Z")
