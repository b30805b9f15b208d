"""``ro-conformance check``: the pre-flight on sim, bridge and tapi32:emulated, and its failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from suite_runner import derived_profile
from test_desk import RealTsp

from conformance.backends.sim import SimBackend
from conformance.backends.tapi32 import Tapi32Backend
from conformance.bridge.server import BridgeServer, ServerThread
from conformance.cli import main
from conformance.cli._check import preflight
from simulator._constants import LineErr
from simulator._profile import load_profile

PROFILES = Path(__file__).resolve().parents[1] / "profiles"
REFERENCE = PROFILES / "reference.yaml"


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["check", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["sim", "tapi32:emulated"])
def test_check_lists_devices_desk_and_roles(capsys: pytest.CaptureFixture[str], backend: str) -> None:
    code, facts = check(capsys, "--backend", backend, "--profile", str(REFERENCE))
    assert code == 0 and facts["problem"] == ""
    devices = facts["devices"]
    assert isinstance(devices, list) and any("Station 201" in d and "API 2.2" in d for d in devices)
    desk = facts["desk"]
    assert isinstance(desk, dict) and desk["address"] == "201" and desk["calls_now"] == 0
    roles = facts["roles"]
    assert isinstance(roles, dict) and set(roles) == {"desk", "remote_office", "target", "caller"}
    if backend.startswith("tapi32"):
        assert roles["target"].startswith("party line 'Party line 0301234567")
        assert roles["desk"].startswith("monitored on 'Station 201")


@pytest.fixture
def served_tapi32() -> Iterator[ServerThread]:
    server = BridgeServer(Tapi32Backend.emulated(REFERENCE), mode="virtual",
                          factory=lambda: Tapi32Backend.emulated(REFERENCE))
    with ServerThread(server) as st:
        yield st


def test_check_through_the_bridge_reports_the_served_party_lines(
        capsys: pytest.CaptureFixture[str], served_tapi32: ServerThread) -> None:
    code, facts = check(capsys, "--backend", f"bridge://{served_tapi32.url}", "--profile", str(REFERENCE))
    assert code == 0, facts["problem"]
    roles = facts["roles"]
    assert isinstance(roles, dict) and roles["caller"].startswith("party line 'Party line 0409876543")


def test_check_through_a_bridge_to_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    with ServerThread(BridgeServer(SimBackend(REFERENCE), mode="virtual")) as st:
        code, facts = check(capsys, "--backend", f"bridge://{st.url}", "--profile", str(REFERENCE))
    assert code == 0 and facts["roles"] == dict.fromkeys(("desk", "remote_office", "target", "caller"),
                                                         "simulator (direct party control)")


def test_no_desk_line_is_the_reason_the_suite_cannot_run(capsys: pytest.CaptureFixture[str]) -> None:
    tsp = RealTsp(addresses=dict.fromkeys(range(8), "999"), names=dict.fromkeys(range(8), "Trunk"),
                  dead={1: ("lineGetDevCaps", LineErr.NODRIVER)})
    facts = preflight(tsp, load_profile(REFERENCE))
    tsp.close()
    assert str(facts["problem"]).startswith("no line device is the desk '201'")
    assert "device 1: skipped (lineGetDevCaps: LINEERR_NODRIVER)" in facts["devices"]


def test_an_unavailable_backend_is_exit_3_with_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, facts = check(capsys, "--backend", "bridge://127.0.0.1:9?timeout=1", "--profile", str(REFERENCE))
    assert code == 3 and "cannot connect" in str(facts["problem"])


def test_a_broken_answers_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "answers.yaml"
    bad.write_text("nothing: here\n", encoding="utf-8")
    code = main(["check", "--answers", str(bad), "--profile", str(REFERENCE)])
    assert code == 4 and "answers.yaml: needs a list under 'answers'" in capsys.readouterr().err


def test_operator_roles_with_an_answers_file(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RO_CONFORMANCE_ANSWERS", raising=False)
    answers = tmp_path / "answers.yaml"
    answers.write_text("answers: []\n", encoding="utf-8")

    def no_party_lines(data: dict[str, object]) -> None:
        pixit = data["pixit"]
        assert isinstance(pixit, dict)
        pixit["party_lines"] = {"remote_office": "Not there", "target": "Not there", "caller": "Not there"}
    profile = derived_profile(tmp_path, "reference", "operator-only", mutate=no_party_lines)
    code, facts = check(capsys, "--backend", "tapi32:emulated", "--profile", str(profile), "--answers", str(answers))
    assert code == 0 and facts["roles"] == {"desk": "monitored on 'Station 201 (Desk under test)'; actions at "
                                            "the set: operator", "remote_office": "operator",
                                            "target": "operator", "caller": "operator"}
    monkeypatch.delenv("RO_CONFORMANCE_OPERATOR", raising=False)     # as in CI: nobody at a terminal
    code, facts = check(capsys, "--backend", "tapi32:emulated", "--profile", str(profile))
    assert code == 0 and facts["roles"]["caller"] == "none" and facts["warnings"]
