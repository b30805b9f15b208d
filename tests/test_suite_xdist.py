"""pytest-xdist: outcomes travel on the reports, so ``-n 2`` gives the same results.json as a serial run."""

from __future__ import annotations

from pathlib import Path

import pytest
from suite_runner import PROFILES, derived_profile, outcomes, run_suite

from conformance.report._results import REQUIREMENT_CLAUSES

pytest_plugins = ("pytester",)


@pytest.mark.parametrize("base", ["reference", "single-trunk"])
def test_xdist_gives_the_same_results(pytester: pytest.Pytester, tmp_path: Path, base: str) -> None:
    path = derived_profile(tmp_path, base, f"{base}-x", [{"kind": "lost_reply", "function": "lineBlindTransfer"}])
    _, serial = run_suite(pytester, path)
    run, parallel = run_suite(pytester, path, "-n", "2")
    assert "2 workers" in run.stdout.str()
    assert outcomes(parallel) == outcomes(serial)
    assert len(parallel["tests"]) == len(serial["tests"]) == len(REQUIREMENT_CLAUSES)
    assert parallel["remote_office"] == serial["remote_office"]
    assert parallel["backend"]["info"]["profile"] == f"{base}-x"
    by_id = {t["id"]: t for t in parallel["tests"]}
    assert by_id["RO-FWD-01"]["records"], "the evidence crosses from the workers too"


def test_shipped_profile_under_xdist(pytester: pytest.Pytester) -> None:
    _, serial = run_suite(pytester, PROFILES / "native-ro.yaml")
    _, parallel = run_suite(pytester, PROFILES / "native-ro.yaml", "-n", "2")
    assert outcomes(parallel) == outcomes(serial)
    assert parallel["remote_office"]["route"] == "native"
