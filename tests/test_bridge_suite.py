"""The conformance suite through the bridge gives the in-process results, test by test.

Two pytest runs of ``conformance.suite`` on the reference profile (in subprocesses, side by side): one
with ``--tapi-backend sim``, one with ``--tapi-backend bridge://`` to a virtual-clock server on a thread
of this process. Outcome, reason and clause of every test must agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from suite_runner import derived_profile

from conformance.backends.sim import SimBackend
from conformance.bridge.server import BridgeServer, ServerThread

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "reference.yaml"


def _start_suite(backend: str, results: Path, profile: Path = PROFILE) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "conformance.suite",
         "--tapi-backend", backend, "--tapi-profile", str(profile), "--tapi-results", str(results)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _outcomes(path: Path) -> dict[str, tuple[Any, ...]]:
    data = json.loads(path.read_text())
    return {t["nodeid"]: (t["id"], t["outcome"], t["reason"], t.get("clause")) for t in data["tests"]}


def test_suite_results_through_the_bridge_equal_in_process(tmp_path: Path) -> None:
    served = SimBackend(PROFILE)
    with ServerThread(BridgeServer(served, mode="virtual")) as st:
        runs = {"sim": _start_suite("sim", tmp_path / "sim.json"),
                "bridge": _start_suite(f"bridge://{st.url}", tmp_path / "bridge.json")}
        logs = {name: proc.communicate(timeout=300)[0] for name, proc in runs.items()}
        leftovers = st.call(lambda: (len(served.apps), len(served.live_calls())))
    for name in runs:
        assert (tmp_path / f"{name}.json").exists(), logs[name]
    sim, bridge = _outcomes(tmp_path / "sim.json"), _outcomes(tmp_path / "bridge.json")
    assert len(sim) >= 10
    assert bridge == sim
    assert runs["bridge"].returncode == runs["sim"].returncode
    assert leftovers[0] == 0          # every connection's applications were shut down
    assert json.loads((tmp_path / "bridge.json").read_text())["backend"]["info"]["served_backend"] == "sim"


@pytest.mark.parametrize("fault", [{"kind": "out_of_service", "after_requests": 3},
                                   {"kind": "line_close", "after_requests": 5}])
def test_faults_after_n_requests_fire_in_every_test_through_the_bridge_as_in_process(
        tmp_path: Path, fault: dict[str, Any]) -> None:
    """Each test's connection gets a fresh PBX (session.reset): a fault counted over requests fires in
    every test, as with a fresh in-process backend, not once in the first test of the run."""
    profile = derived_profile(tmp_path, "reference", f"{fault['kind']}-{fault['after_requests']}", [fault])
    with ServerThread(BridgeServer(SimBackend(profile), mode="virtual")) as st:
        runs = {"sim": _start_suite("sim", tmp_path / "sim.json", profile),
                "bridge": _start_suite(f"bridge://{st.url}", tmp_path / "bridge.json", profile)}
        logs = {name: proc.communicate(timeout=300)[0] for name, proc in runs.items()}
    for name in runs:
        assert (tmp_path / f"{name}.json").exists(), logs[name]
    sim, bridge = _outcomes(tmp_path / "sim.json"), _outcomes(tmp_path / "bridge.json")
    assert sum(o[1] == "error" for o in sim.values()) >= 3          # the fault does bite in-process
    assert bridge == sim
    verdicts = {n: json.loads((tmp_path / f"{n}.json").read_text())["remote_office"]["verdict"] for n in runs}
    assert verdicts["bridge"] == verdicts["sim"] == "undetermined", verdicts
