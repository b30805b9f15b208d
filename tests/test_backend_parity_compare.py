"""``tools/backend_parity.py --compare``: outcomes of runs made elsewhere, compared test by test.

The acceptance run of the TAPI service provider (docs/tsp.md) compares a Windows ``--backend tapi32:`` run
through TAPISRV and rotsp.tsp with a ``--backend sim`` run this way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "tools" / "backend_parity.py"


def _results(outcomes: dict[str, str], exit_status: int = 0) -> dict[str, Any]:
    return {"exit_status": exit_status, "profile": {"name": "reference"},
            "remote_office": {"verdict": "compatible", "route": "blind"},
            "tests": [{"id": tid, "nodeid": f"conformance/suite/test_x.py::test_{tid.lower()}", "outcome": o}
                      for tid, o in outcomes.items()]}


def _run(tmp_path: Path, **runs: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    dirs = []
    for name, results in runs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(results), encoding="utf-8")
        dirs.append(str(tmp_path / name))
    return subprocess.run([sys.executable, str(TOOL), "--compare", *dirs], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def test_agreeing_runs_exit_0(tmp_path: Path) -> None:
    same = {"RO-BLIND-01": "pass", "RO-FWD-01": "pass", "RO-XFER-02": "fail"}
    got = _run(tmp_path, sim=_results(same), tsp=_results(same))
    assert got.returncode == 0, got.stdout + got.stderr
    assert "all 3 tests agree" in got.stdout


def test_a_differing_test_is_named_and_exits_1(tmp_path: Path) -> None:
    got = _run(tmp_path, sim=_results({"RO-BLIND-01": "pass", "RO-FWD-01": "pass"}),
               tsp=_results({"RO-BLIND-01": "pass", "RO-FWD-01": "error"}, exit_status=3))
    assert got.returncode == 1, got.stdout + got.stderr
    assert "DIFFERS RO-FWD-01" in got.stdout and "sim=pass" in got.stdout and "tsp=error" in got.stdout
    assert "DIFFERS exit status: [0, 3]" in got.stdout
    assert "RO-BLIND-01" not in got.stdout.split("DIFFERS", 1)[1]


def test_an_unreadable_run_exits_2(tmp_path: Path) -> None:
    got = _run(tmp_path, sim=_results({"RO-BLIND-01": "pass"}), tsp={"not": "a results file"})
    assert got.returncode == 2 and "cannot read" in got.stdout, got.stdout + got.stderr
