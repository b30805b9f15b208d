"""``ro-conformance probe``: a draft profile from what TAPI reveals, questions for what it cannot.

The simulator advertises exactly what its profile claims, so probing ``sim:`` on a shipped profile must
give back every claim capabilities can tell, and ask exactly the questions no capability answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from suite_runner import PROFILES, SHIPPED

from conformance._draft import QUESTION, render
from conformance._trace import TraceBackend
from conformance.backends.sim import SimBackend
from conformance.cli import main
from conformance.cli._probe import draft_of, probe
from simulator._constants import LineCallPrivilege, LineForwardMode
from simulator._errors import ProfileError
from simulator._profile import load_profile, load_profile_text
from simulator._profile_model import Profile
from simulator._structs import LineForward

# Honest profiles: the shipped ones and the boundary cases (mutants advertise what they do not claim).
HONEST = SHIPPED + sorted(f"boundary/{p.stem}" for p in (PROFILES / "boundary").glob("*.yaml"))

# What no capability reveals, whatever the PBX (the test lists it once, so a new guess shows up here).
ALWAYS_ASKED = {
    "stations[0].business_number", "trunks.channels", "pixit.remote_office", "pixit.target", "pixit.caller",
    "capabilities.forwarding.desk_sees_forwarded_call", "capabilities.caller_id.direct",
    "capabilities.caller_id.blind_transfer", "capabilities.caller_id.consult_transfer",
    "capabilities.caller_id.forwarded",
}
NATIVE_ASKED = {f"capabilities.native_remote_office.{k}" for k in ("activate", "deactivate", "event_param1")}


def _profile(name: str) -> Profile:
    return load_profile(PROFILES / f"{name}.yaml")


def expected_questions(p: Profile, *, active: bool) -> set[str]:
    asked = set(ALWAYS_ASKED)
    if p.capabilities.transfer.consultation:
        asked.add("capabilities.transfer.complete_in")
    if p.capabilities.forwarding is not None and not active:
        asked.add("capabilities.forwarding.clear")
    if p.capabilities.origination != "auto" and not active:
        asked.add("capabilities.origination")
    if p.capabilities.native_remote_office.mechanism == "devspecific":
        asked |= NATIVE_ASKED
    if active:
        asked.discard("pixit.remote_office")
    return asked


def profile_value(p: Profile, key: str) -> Any:
    node: Any = p
    for part in key.split("."):
        node = getattr(node, part)
    return list(node) if isinstance(node, tuple) else node


def _draft(name: str, *, active: bool = False) -> tuple[Profile, Any]:
    p = _profile(name)
    backend = SimBackend(p)
    dial = p.dial_string(p.pixit.remote_office)
    result = probe(backend, f"sim:{name}", p.pixit.desk, active=active, dial=dial)
    pixit = {"remote_office": p.pixit.remote_office} if active else {}
    return p, draft_of(result, pixit=pixit)


def _compared(draft: Any) -> dict[str, Any]:
    """The claims that correspond one-to-one to a profile key (not pbx text, not the stations list)."""
    return {k: c.value for k, c in draft.claims.items()
            if not c.is_question and k.startswith(("capabilities.", "pixit.", "simulation.")) }


@pytest.mark.parametrize("active", [False, True], ids=["passive", "active"])
@pytest.mark.parametrize("name", HONEST)
def test_probe_gives_back_the_claims_caps_can_tell(name: str, active: bool) -> None:
    p, draft = _draft(name, active=active)
    assert {q.key for q in draft.questions()} == expected_questions(p, active=active)
    claims = _compared(draft)
    assert "capabilities.transfer.blind" in claims and "simulation.api_version" in claims
    for key, value in claims.items():
        if key == "capabilities.forwarding":
            assert profile_value(p, key) is None
            continue
        want = profile_value(p, key)
        if key.endswith(".modes"):
            assert sorted(value) == sorted(want), key
        else:
            assert value == want, key


@pytest.mark.parametrize("name", HONEST)
def test_answered_draft_validates_and_equals_the_profile(name: str, tmp_path: Path) -> None:
    p, draft = _draft(name)
    answers = {q.key: profile_value(p, q.key) for q in draft.questions()
               if q.key not in ("stations[0].business_number", "trunks.channels")}
    answers["stations[0].business_number"] = p.station(p.pixit.desk).business_number
    answers["trunks.channels"] = p.trunks
    text = render(draft, answers)
    assert QUESTION not in "".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    loaded = load_profile_text(text, "draft.yaml")
    assert loaded.capabilities == p.capabilities
    assert loaded.trunks == p.trunks and loaded.pixit.desk == p.pixit.desk


def test_unanswered_draft_does_not_validate_and_names_each_question() -> None:
    _p, draft = _draft("reference")
    text = render(draft)
    assert "DOES NOT VALIDATE" in text
    with pytest.raises(ProfileError) as caught:
        load_profile_text(text, "draft.yaml")
    keys = {problem.key_path for problem in caught.value.problems}
    for q in draft.questions():
        assert q.key in keys, q.key
    for problem in caught.value.problems:
        assert QUESTION in problem.message


def test_caller_id_questions_ask_for_the_business_number_only_where_remote_office_needs_it() -> None:
    # The forwarded path is judged only against its claim (docs/profiles.md's minimal profile says
    # 'caller' and is compatible): its question must not tell the vendor that Remote Office needs the business number.
    _p, draft = _draft("reference")
    sources = {k.rsplit(".", 1)[1]: c.source for k, c in draft.claims.items()
               if k.startswith("capabilities.caller_id.")}
    assert "RO needs business" in sources["blind_transfer"] and "RO needs business" in sources["consult_transfer"]
    assert "native route needs business" in sources["direct"]
    assert "needs business" not in sources["forwarded"]


def test_every_claim_line_names_its_source_and_confidence() -> None:
    _p, draft = _draft("native-ro", active=True)
    text = render(draft)
    body = [ln for ln in text.splitlines() if ln and not ln.startswith("#") and ": " in ln and not ln.endswith(":")]
    for line in body:
        if line.strip().startswith(("- extension", "name:")) or "business_number" in line:
            continue
        assert ("# [" in line and "] " in line) or "# answer this" in line, line


def test_passive_probe_changes_nothing() -> None:
    p = _profile("reference")
    traced = TraceBackend(SimBackend(p), test="probe")
    probe(traced, "sim", p.pixit.desk)         # type: ignore[arg-type]
    functions = {e["function"] for e in traced.entries}
    assert functions <= {"lineInitializeEx", "lineNegotiateAPIVersion", "lineGetDevCaps", "lineGetAddressCaps",
                         "lineOpen", "lineGetAddressStatus", "lineClose", "lineShutdown"}
    opens = [e for e in traced.entries if e["function"] == "lineOpen"]
    assert opens and all(e["args"]["privileges"] == LineCallPrivilege.MONITOR for e in opens)


def test_active_probe_restores_forwarding_and_leaves_no_call() -> None:
    p = _profile("reference")
    backend = SimBackend(p)
    desk = backend.pbx.device(p.pixit.desk)
    before = (LineForward(forward_mode=int(LineForwardMode.BUSY), dest_address="0301234567"),)
    h_app, _, _ = backend.line_initialize_ex("setup")
    h_line = backend.line_open(h_app, 0, 0x00020002)
    backend.line_forward(h_line, False, 0, before, 0)
    backend.clock.advance(1.0)
    backend.line_shutdown(h_app)
    assert desk.forwarding == before
    result = probe(backend, "sim", p.pixit.desk, active=True, dial=p.dial_string(p.pixit.remote_office))
    assert result.active["forward_set"] == "0" and result.active["forward_restored"] == "0"
    assert result.active["make_call"] == "0"
    backend.clock.advance(5.0)
    assert desk.forwarding == before
    assert backend.live_calls() == []


def test_probe_cli_writes_the_draft_and_lists_the_questions(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                             ) -> None:
    out = tmp_path / "draft.yaml"
    status = main(["probe", "--backend", f"sim:{PROFILES / 'prompted.yaml'}", "--desk", "201", "--active",
                   "--remote-office", "01711234567", "--out", str(out)])
    assert status == 0
    text = out.read_text(encoding="utf-8")
    assert 'origination: "prompt_offering"  # [observed]' in text
    err = capsys.readouterr().err
    assert "question(s) to answer" in err and "trunks.channels" in err


def test_probe_cli_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["probe", "--backend", "nosuch:"]) == 4
    assert main(["probe", "--backend", f"sim:{PROFILES / 'reference.yaml'}", "--active"]) == 4
    assert main(["probe", "--backend", f"sim:{PROFILES / 'reference.yaml'}", "--desk", "999"]) == 4
    assert "no line device has the desk address '999'" in capsys.readouterr().err


def test_probe_through_tapi32_emulated_and_the_bridge_equals_sim() -> None:
    from conformance.backends.bridge import BridgeBackend
    from conformance.backends.tapi32 import Tapi32Backend
    from conformance.bridge.server import BridgeServer, ServerThread

    p = _profile("native-ro")
    dial = p.dial_string(p.pixit.remote_office)
    drafts = {}
    sim = probe(SimBackend(p), "sim", p.pixit.desk, active=True, dial=dial)
    drafts["sim"] = _compared(draft_of(sim))
    emulated = Tapi32Backend.emulated(p)
    try:
        drafts["tapi32"] = _compared(draft_of(probe(emulated, "tapi32:emulated", p.pixit.desk, active=True,
                                                    dial=dial)))
    finally:
        emulated.close()
    with ServerThread(BridgeServer(SimBackend(p), mode="virtual")) as st:
        client = BridgeBackend.from_spec(st.url, None)
        try:
            drafts["bridge"] = _compared(draft_of(probe(client, "bridge", p.pixit.desk, active=True, dial=dial)))
        finally:
            client.close()
    assert drafts["tapi32"] == drafts["sim"]
    assert drafts["bridge"] == drafts["sim"]
