"""The conformance suite, unchanged, through ``tapi32:emulated`` agrees with ``sim`` test by test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "conformance" / "suite"

pytestmark = pytest.mark.skipif(not SUITE.is_dir(), reason="conformance/suite is not in this tree yet")


def run_suite(backend: str, profile: str, results: Path) -> dict[str, tuple[str, str]]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(SUITE),
               "--tapi-backend", backend, "--tapi-profile", str(ROOT / "profiles" / f"{profile}.yaml"),
               "--tapi-results", str(results)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert results.exists(), done.stdout[-3000:] + done.stderr[-3000:]
    data: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    return {t["id"]: (t["outcome"], t.get("reason") or "") for t in data["tests"]}


@pytest.mark.parametrize("profile", ["reference"])
def test_suite_outcomes_agree_with_the_simulator(tmp_path: Path, profile: str) -> None:
    sim = run_suite("sim", profile, tmp_path / "sim.json")
    emulated = run_suite("tapi32:emulated", profile, tmp_path / "tapi32.json")
    assert sim, "the suite ran no tests"
    assert set(emulated) == set(sim)
    differing = {test: (sim[test], emulated[test]) for test in sim if sim[test] != emulated[test]}
    assert differing == {}
    if profile == "reference":
        assert {outcome for outcome, _ in sim.values()} <= {"pass", "not-applicable"}
