"""The suite judges what it sees and blames the requirement that owns the failing step (issue 9 §2).

Some misbehaviours have no profile knob yet; these tests make the simulated PBX lie with a small pytest
plugin (``-p``) that patches the simulator inside the pytester run only.
"""

from __future__ import annotations

from typing import Any

import pytest
from suite_runner import derived_profile, outcomes, reasons, run_suite
from test_suite_profiles import NOT_PASSING

from conformance.report._results import REQUIREMENT_CLAUSES

pytest_plugins = ("pytester",)

# Patches of the simulator for one pytester run (module name -> source). The run shares this process, so
# each patch is undone at pytest_unconfigure.
LIES = {
    # forwarding is stored and reported, but routing ignores it
    "lie_forward_not_applied": """
import simulator._switch as sw
_saved = sw.Pbx._forward_entry
def pytest_configure(config):
    sw.Pbx._forward_entry = lambda self, station, kind: None
def pytest_unconfigure(config):
    sw.Pbx._forward_entry = _saved
""",
    # the PBX claims trunks.channels but has one real channel
    "lie_one_real_trunk": """
import simulator._switch as sw
_saved = sw.Pbx.__init__
def _init(self, *args, **kwargs):
    _saved(self, *args, **kwargs)
    self.trunks_total = 1
def pytest_configure(config):
    sw.Pbx.__init__ = _init
def pytest_unconfigure(config):
    sw.Pbx.__init__ = _saved
""",
}


def _lie(pytester: pytest.Pytester, name: str) -> tuple[str, str]:
    pytester.makepyfile(**{name: LIES[name]})
    pytester.syspathinsert()
    return "-p", name


def _clean(base: str) -> dict[str, str]:
    return {r: NOT_PASSING[base].get(r, "pass") for r in REQUIREMENT_CLAUSES}


def test_forward_query_empty_blames_fwd_02_only(pytester: pytest.Pytester) -> None:
    path = derived_profile(pytester.path, "reference", "query-empty", [{"kind": "forward_query_empty"}])
    _, results = run_suite(pytester, path)
    got, why = outcomes(results), reasons(results)
    assert got["RO-FWD-02"] == "fail" and got["RO-FWD-05"] == "inconclusive"
    assert "prerequisite RO-FWD-02 does not hold" in why["RO-FWD-05"]
    assert [c["clause"] for c in results["remote_office"]["failed_clauses"]] == ["fwd_query"]


def test_forwarding_not_applied_fails_fwd_06_not_trunks(pytester: pytest.Pytester) -> None:
    _, results = run_suite(pytester, derived_profile(pytester.path, "reference", "fwd-not-applied"),
                           *_lie(pytester, "lie_forward_not_applied"))
    got, why = outcomes(results), reasons(results)
    assert got == {**_clean("reference"), "RO-FWD-06": "fail", "RO-E2E-02": "fail",
                   "RO-TRUNK-01": "inconclusive"}, why
    assert "prerequisite RO-FWD-06 does not hold" in why["RO-TRUNK-01"]
    assert "rings at the desk line" in why["RO-FWD-06"]
    ro = results["remote_office"]
    assert [c["clause"] for c in ro["failed_clauses"]] == ["fwd_set"]
    assert ro["clause_status"]["trunks"] == "undetermined"


@pytest.mark.parametrize("form", ["reply_error", "busy", "disconnected"])
def test_a_trunk_shortage_is_blamed_on_trunks_not_on_the_transfers(pytester: pytest.Pytester, form: str) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["simulation"]["trunk_exhaustion"] = form
    path = derived_profile(pytester.path, "reference", f"short-{form}".replace("_", "-"), mutate=mutate)
    _, results = run_suite(pytester, path, *_lie(pytester, "lie_one_real_trunk"))
    got, why = outcomes(results), reasons(results)
    assert got["RO-TRUNK-01"] == "fail", why
    assert [k for k, v in got.items() if v == "fail"] == ["RO-TRUNK-01"], why
    for rid in ("RO-BLIND-01", "RO-CONS-01", "RO-FWD-06", "RO-E2E-01", "RO-E2E-02"):
        assert got[rid] == "inconclusive", (rid, why[rid])
        assert "RO-TRUNK-01" in why[rid] and "far party" not in why[rid], (rid, why[rid])
    ro = results["remote_office"]
    assert [c["clause"] for c in ro["failed_clauses"]] == ["trunks"]
    assert ro["clause_status"]["blind"] == ro["clause_status"]["consult_in_ringing"] == "undetermined"
    assert ro["verdict"] == "not-compatible" and results["exit_status"] == 2


def test_a_busy_station_is_still_the_far_party(pytester: pytest.Pytester) -> None:
    def mutate(data: dict[str, Any]) -> None:
        for ext in data["externals"]:
            if ext["number"] == data["pixit"]["target"]:
                ext["behaviour"] = "busy"
    _, results = run_suite(pytester, derived_profile(pytester.path, "reference", "target-busy", mutate=mutate))
    why = reasons(results)
    assert outcomes(results)["RO-CONS-01"] == "inconclusive"
    assert "far party is busy" in why["RO-CONS-01"] and "trunk" not in why["RO-CONS-01"]
    assert "post-condition" not in why["RO-CONS-01"], why["RO-CONS-01"]


def test_the_failed_record_is_the_message_judged(pytester: pytest.Pytester) -> None:
    path = derived_profile(pytester.path, "consult-ringing", "setup-refused", [
        {"kind": "reply_error", "function": "lineSetupTransfer", "error": "LINEERR_OPERATIONFAILED"}])
    _, results = run_suite(pytester, path)
    test = next(t for t in results["tests"] if t["id"] == "RO-CONS-01")
    blamed = next(r for r in test["records"] if r["seq"] == test["failed_seq"])
    assert blamed["kind"] == "message" and blamed["message"]["name"] == "LINE_REPLY"
    assert "LINEERR_OPERATIONFAILED" in blamed["text"]
    assert [r["seq"] for r in test["records"] if r["failed"]] == [blamed["seq"]]
    note = next(r for r in test["records"] if r["kind"] == "note" and "was answered" in r["text"])
    assert not note["failed"] and note["seq"] > blamed["seq"]
