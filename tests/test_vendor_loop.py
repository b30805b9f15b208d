"""Record, replay, certify, verify: a run directory through sim, bridge and tapi32:emulated.

Each backend runs the suite once (``ro-conformance run`` in a subprocess); the run directory must hold
a trace and certification fields, replay to the same outcomes, verify, and stop verifying as soon as
any of its files is edited.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from suite_runner import PROFILES

from conformance._trace import ReplayDivergence, TraceBackend, read_trace, sha256_of, write_trace
from conformance.backends.replay import ReplayBackend
from conformance.backends.sim import SimBackend
from conformance.cli._verify import compare_replay
from conformance.report._results import EXIT_NOT_VERIFIED
from simulator._constants import LineForwardMode
from simulator._structs import LineForward

ROOT = Path(__file__).resolve().parent.parent
PROFILE = PROFILES / "consult-ringing.yaml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance.cli", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)


def outcomes(directory: Path) -> dict[str, tuple[str, str]]:
    data = json.loads((directory / "results.json").read_text(encoding="utf-8"))
    return {t["id"]: (t["outcome"], t["reason"]) for t in data["tests"]}


def _run(directory: Path, backend: str) -> Path:
    done = cli("run", "--profile", str(PROFILE), "--backend", backend, "--out", str(directory))
    assert (directory / "results.json").exists(), done.stdout[-3000:] + done.stderr[-3000:]
    return directory


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("sim"), "sim")


@pytest.fixture(scope="module")
def bridge_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    from conformance.bridge.server import BridgeServer, ServerThread

    with ServerThread(BridgeServer(SimBackend(PROFILE), mode="virtual")) as st:
        yield _run(tmp_path_factory.mktemp("bridge"), f"bridge://{st.url}")


@pytest.fixture(scope="module")
def tapi32_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _run(tmp_path_factory.mktemp("tapi32"), "tapi32:emulated")


RUNS = ["sim_run", "bridge_run", "tapi32_run"]


# --- record ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
def test_run_writes_trace_profile_and_certification(run: str, request: pytest.FixtureRequest) -> None:
    directory: Path = request.getfixturevalue(run)
    data = json.loads((directory / "results.json").read_text(encoding="utf-8"))
    cert = data["certification"]
    assert cert["trace_sha256"] == sha256_of(directory / "trace.jsonl")
    assert cert["profile_sha256"] == sha256_of(directory / "profile.yaml") == sha256_of(PROFILE)
    assert cert["provider_info"].startswith("RO simulator TSP") and cert["switch_info"] == "consult-ringing"
    assert cert["api_version"] == "0x00020002" and cert["suite_version"] and cert["host_os"] and cert["date"]
    junit = (directory / "junit.xml").read_text(encoding="utf-8")
    assert f'name="ro_trace_sha256" value="{cert["trace_sha256"]}"' in junit
    assert f'data-ro-cert="trace_sha256">{cert["trace_sha256"]}<' in (directory / "report.html").read_text("utf-8")
    header, sessions = read_trace(directory / "trace.jsonl")
    assert header["format"] == "ro-conformance-trace/1" and header["backend"] == cert["backend"]
    ran = {t["nodeid"] for t in data["tests"] if t["outcome"] != "not-applicable"}
    assert ran <= set(sessions)


def test_trace_holds_requests_replies_and_structures_in_full(sim_run: Path) -> None:
    _header, sessions = read_trace(sim_run / "trace.jsonl")
    entries = [e for s in sessions.values() for e in s["entries"]]
    caps = next(e for e in entries if e["function"] == "lineGetAddressCaps")
    assert caps["result"]["$struct"] == "LineAddressCaps" and "max_forward_entries" in caps["result"]
    forward = next(e for e in entries if e["function"] == "lineForward" and e["args"]["forward_list"])
    assert forward["args"]["forward_list"][0]["$struct"] == "LineForward" and forward["result"] > 0
    reply = next(e for e in entries if e.get("reply_to") == forward["pos"] and e["test"] == forward["test"])
    assert reply["result"]["$message"]["msg"] == 12            # LINE_REPLY, with its request's position
    assert all("t" in e and isinstance(e["clock"], list) for e in entries)
    assert any(e["type"] == "party" and e["method"] == "wait_for" for e in entries)


def test_tapi32_trace_carries_the_raw_bytes_of_variable_structures(tapi32_run: Path) -> None:
    _header, sessions = read_trace(tapi32_run / "trace.jsonl")
    raws = [r for s in sessions.values() for e in s["entries"] for r in e.get("raw", ())]
    kinds = {r["struct"] for r in raws}
    assert {"LINEDEVCAPS", "LINEADDRESSCAPS", "LINEADDRESSSTATUS"} <= kinds
    devcaps = next(r for r in raws if r["struct"] == "LINEDEVCAPS")
    size = int.from_bytes(bytes.fromhex(devcaps["hex"])[8:12], "little")     # dwUsedSize
    assert size == len(devcaps["hex"]) // 2


# --- replay ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
def test_replay_reaches_the_recorded_outcomes(run: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    directory: Path = request.getfixturevalue(run)
    replayed = _run(tmp_path / "replayed", f"replay:{directory / 'trace.jsonl'}")
    assert outcomes(replayed) == outcomes(directory)
    assert json.loads((replayed / "results.json").read_text())["certification"]["provider_info"].startswith("RO")


def test_replay_warns_up_front_when_the_run_judges_another_profile(sim_run: Path, tmp_path: Path) -> None:
    """The replayed PBX is the recorded one: judging it against another profile's claims is said before the run."""
    trace = f"replay:{sim_run / 'trace.jsonl'}"
    same = cli("run", "--profile", str(PROFILE), "--backend", trace, "--out", str(tmp_path / "same"), "-k", "CAPS")
    assert "was recorded with profile" not in same.stderr, same.stderr[-2000:]
    other = cli("run", "--profile", str(PROFILES / "reference.yaml"), "--backend", trace,
                "--out", str(tmp_path / "other"), "-k", "CAPS")
    warning = [line for line in other.stderr.splitlines() if "was recorded with profile" in line]
    assert len(warning) == 1, other.stderr[-2000:]
    assert "'consult-ringing'" in warning[0] and "reference.yaml" in warning[0]


def test_a_tapi32_trace_replays_without_the_dll(tapi32_run: Path, tmp_path: Path) -> None:
    script = (f"import sys; from conformance.cli import main; "
              f"status = main(['run', '--profile', {str(tapi32_run / 'profile.yaml')!r}, '--backend', "
              f"'replay:{tapi32_run / 'trace.jsonl'}', '--out', {str(tmp_path)!r}]); "
              f"print('TAPI32', 'conformance.backends.tapi32._emulated' in sys.modules); "
              f"sys.exit(status)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert "TAPI32 False" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert outcomes(tmp_path) == outcomes(tapi32_run)


def _recorded_session(tmp_path: Path) -> Path:
    traced = TraceBackend(SimBackend(PROFILE), test="t::one")
    h_app, _devices, _ = traced.line_initialize_ex("app")
    h_line = traced.line_open(h_app, 0, 0x00020002)
    entry = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address="001711234567")
    traced.line_forward(h_line, False, 0, (entry,), 0)
    traced.line_get_message(h_app, 1.0)
    traced.close()
    path = tmp_path / "trace.jsonl"
    write_trace(path, {"suite_version": "x"}, [traced.session()])
    return path


def test_replay_serves_the_recording_and_names_the_first_divergence(tmp_path: Path) -> None:
    path = _recorded_session(tmp_path)
    same = TraceBackend(ReplayBackend(path), test="t::one")           # type: ignore[arg-type]
    h_app, _devices, _ = same.line_initialize_ex("app")
    h_line = same.line_open(h_app, 0, 0x00020002)
    entry = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address="001711234567")
    assert same.line_forward(h_line, False, 0, (entry,), 0) > 0
    assert same.line_get_message(h_app, 1.0) is not None
    same.close()

    other = ReplayBackend(path)
    other.bind_test("t::one")
    other.line_initialize_ex("app")
    other.line_open(h_app, 0, 0x00020002)
    wrong = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address="0999")
    with pytest.raises(ReplayDivergence) as caught:
        other.line_forward(h_line, False, 0, (wrong,), 0)
    text = str(caught.value)
    assert "lineForward argument forward_list" in text and "t::one, entry 3 (trace.jsonl line 5)" in text
    with pytest.raises(ReplayDivergence):           # sticky: no clean-up can swallow it
        other.close()
    stray = ReplayBackend(path)
    stray.bind_test("t::one")
    with pytest.raises(ReplayDivergence, match=r"the suite called lineShutdown.*the recording has lineInitializeEx"):
        stray.line_shutdown(1)
    missing = ReplayBackend(path)
    missing.bind_test("t::two")
    with pytest.raises(ReplayDivergence, match="no session for t::two"):
        missing.line_initialize_ex("app")


# --- verify ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("run", RUNS)
def test_verify_accepts_an_untouched_run(run: str, request: pytest.FixtureRequest) -> None:
    done = cli("verify", str(request.getfixturevalue(run)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _edit_json(path: Path, key: tuple[str, ...], value: Any) -> None:
    """Set one value by its key path (a text edit could hit another "verdict", e.g. the profile's expect)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    node = data
    for k in key[:-1]:
        node = node[k]
    assert key[-1] in node, key
    node[key[-1]] = value
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _reseal(directory: Path) -> None:
    """What a careful forger does after editing the trace: put its new hash everywhere it is shown."""
    results = directory / "results.json"
    old = json.loads(results.read_text(encoding="utf-8"))["certification"]["trace_sha256"]
    new = sha256_of(directory / "trace.jsonl")
    for name in ("results.json", "junit.xml", "report.html"):
        _edit(directory / name, old, new, -1)


TAMPERING: dict[str, tuple[Any, str]] = {
    "verdict": (lambda d: _edit_json(d / "results.json", ("remote_office", "verdict"), "not-compatible"),
                "results.json: remote_office.verdict says 'not-compatible', its tests give 'compatible'"),
    "profile-data": (lambda d: _edit_json(d / "results.json", ("profile", "data", "trunks", "channels"), 9),
                     "results.json: profile.data differs from profile.yaml (keys: trunks)"),
    "outcome": (lambda d: _edit(d / "results.json", '"outcome": "pass"', '"outcome": "inconclusive"'),
                "junit.xml: RO-"),
    "profile": (lambda d: _edit(d / "profile.yaml", "channels: 4", "channels: 3"), "profile.yaml: edited"),
    "trace": (lambda d: _edit(d / "trace.jsonl", '"app_name":"ro-conformance"', '"app_name":"forged"'),
              "trace.jsonl: edited"),
    "trace-resealed": (lambda d: (_edit(d / "trace.jsonl", '"dest_address":"001711234567"',
                                        '"dest_address":"001711234599"'), _reseal(d)),
                       "replay diverged from the recording"),
    "junit": (lambda d: _edit(d / "junit.xml", 'value="pass"', 'value="fail"'), "junit.xml: RO-"),
    "html": (lambda d: _edit(d / "report.html", 'data-ro-cert="switch_info">consult-ringing<',
                             'data-ro-cert="switch_info">other<'), "report.html: certification switch_info"),
    "missing-trace": (lambda d: (d / "trace.jsonl").unlink(), "trace.jsonl: missing"),
}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_verify_names_what_was_tampered_with(kind: str, sim_run: Path, tmp_path: Path) -> None:
    directory = tmp_path / "run"
    shutil.copytree(sim_run, directory)
    edit, expected = TAMPERING[kind]
    edit(directory)
    done = cli("verify", str(directory))
    assert done.returncode == EXIT_NOT_VERIFIED, done.stdout + done.stderr
    assert "NOT VERIFIED" in done.stdout and expected in done.stdout, done.stdout


def test_verify_of_a_run_recorded_by_another_suite_version_says_so(sim_run: Path, tmp_path: Path) -> None:
    directory = tmp_path / "run"
    shutil.copytree(sim_run, directory)
    version = json.loads((sim_run / "results.json").read_text())["certification"]["suite_version"]
    _edit(directory / "results.json", f'"suite_version": "{version}"', '"suite_version": "0.0.1"')
    _edit(directory / "junit.xml", f'name="ro_suite_version" value="{version}"',
          'name="ro_suite_version" value="0.0.1"')
    _edit(directory / "report.html", f'data-ro-cert="suite_version">{version}<', 'data-ro-cert="suite_version">0.0.1<')
    done = cli("verify", str(directory))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"recorded with suite 0\.0\.1, re-judged by the installed suite", done.stdout)
    assert "the installed suite reaches every recorded outcome" in done.stdout


def test_verify_lists_changed_outcomes_and_fails_only_on_another_verdict() -> None:
    recorded = {"tests": [{"id": "RO-A", "outcome": "pass", "reason": ""}], "exit_status": 0,
                "remote_office": {"verdict": "compatible", "route": "blind"}}
    reworded = {"tests": [{"id": "RO-A", "outcome": "pass", "reason": "new words"}], "exit_status": 0,
                "remote_office": {"verdict": "compatible", "route": "blind"}}
    rejudged = {"tests": [{"id": "RO-A", "outcome": "fail", "reason": "stricter"}], "exit_status": 2,
                "remote_office": {"verdict": "not-compatible", "route": None}}
    assert compare_replay(recorded, reworded, same_suite=False) == ([], [])
    problems, changes = compare_replay(recorded, rejudged, same_suite=False)
    assert changes == ["RO-A: recorded pass, replayed fail (stricter)"]
    assert any(p.startswith("verdict:") for p in problems)
    problems, _ = compare_replay(recorded, reworded, same_suite=True)
    assert problems and "new words" in problems[0]


def test_verify_usage_error_for_a_directory_without_results(tmp_path: Path) -> None:
    done = cli("verify", str(tmp_path))
    assert done.returncode == 4 and "not a run directory" in done.stderr


def test_verify_rechecks_the_raw_bytes_of_a_tapi32_trace(tapi32_run: Path, tmp_path: Path) -> None:
    """A decoded LINEDEVCAPS edited (and re-sealed) no longer matches the raw bytes recorded with it."""
    from conformance.cli._verify import raw_problems

    assert raw_problems(tapi32_run / "trace.jsonl") == []
    directory = tmp_path / "run"
    shutil.copytree(tapi32_run, directory)
    _edit(directory / "trace.jsonl", '"switch_info":"consult-ringing"', '"switch_info":"forged"', -1)
    _reseal(directory)
    done = cli("verify", str(directory))
    assert done.returncode == EXIT_NOT_VERIFIED
    assert "the raw LINEDEVCAPS bytes do not decode to the lineGetDevCaps result" in done.stdout, done.stdout
