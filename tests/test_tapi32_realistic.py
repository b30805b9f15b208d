"""The tapi32 adapter and its party lines against what real TSPs do (issue: a tapi32 path for real PBXs).

Dialable strings, hands-free call parameters, per-line media modes and lineAccept, call ownership,
caller-ID flags, pending buffers per application, truncation, provider-initiated messages, the order of
lineClose and lineShutdown, the operator fallback, and the import structure.
"""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance._operator import (
    NoOperator,
    ScriptedOperator,
    TerminalOperator,
    default_operator,
)
from conformance.backends.tapi32 import Tapi32Backend
from conformance.backends.tapi32_double import Tapi32Double
from simulator._constants import (
    LineAddrCapFlags,
    LineCallParamFlags,
    LineCallPartyId,
    LineCallState,
    LineDevState,
    LineErr,
    LineMediaMode,
    LineMsg,
)
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._partyview import PartyView, presentation_of
from simulator._profile import load_profile
from simulator._profile_model import Profile
from simulator._structs import LineAddressCaps, LineCallInfo

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = load_profile(ROOT / "profiles" / "reference.yaml")
V22 = 0x00020002
NOBODY = ScriptedOperator([])


def emulator_of(backend: Tapi32Backend) -> Tapi32Double:
    source = backend.fn.source
    assert isinstance(source, Tapi32Double)
    return source


def with_pixit(profile: Profile = REFERENCE, **changes: Any) -> Profile:
    return dataclasses.replace(profile, pixit=dataclasses.replace(profile.pixit, **changes))


@pytest.fixture
def make() -> Iterator[Callable[..., Tapi32Backend]]:
    made: list[Tapi32Backend] = []

    def factory(profile: Profile = REFERENCE, **kwargs: Any) -> Tapi32Backend:
        kwargs.setdefault("operator", NOBODY)
        backend = Tapi32Backend.emulated(profile, **kwargs)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        backend.close()
        assert emulator_of(backend).errors == []


class Desk:
    def __init__(self, backend: Tapi32Backend) -> None:
        self.b = backend
        self.app, self.devices, _ = backend.line_initialize_ex("suite")
        self.line = backend.line_open(self.app, 0, V22)

    def wait(self, pred: Callable[[LineMessage], bool], timeout: float = 30.0) -> LineMessage:
        end = self.b.now() + timeout
        while self.b.now() <= end:
            m = self.b.line_get_message(self.app, end - self.b.now())
            if m is None:
                break
            if pred(m):
                return m
        raise AssertionError("no such message")

    def reply(self, request: int) -> LineMessage:
        return self.wait(lambda m: m.msg == LineMsg.REPLY and m.request_id == request)


def device_named(backend: Tapi32Backend, h_app: int, part: str) -> int:
    for device in range(backend.device_count(h_app)):
        if part in backend.line_get_dev_caps(h_app, device, V22).line_name:
            return device
    raise AssertionError(part)


# ----- dialling from party lines ----------------------------------------------------------------


def test_party_lines_dial_the_translated_string_hands_free(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    emulator = emulator_of(backend)
    emulator.translations["+49891234201"] = "0891234201"     # what the machine's location makes of it
    backend.parties.call("caller", "+49891234201")
    assert emulator.calls["lineTranslateAddressW"] == 1
    assert emulator.dialled[-1] == "0891234201"
    params = emulator.made_with[-1]
    assert params is not None
    assert params.call_param_flags == LineCallParamFlags.ORIGOFFHOOK | LineCallParamFlags.IDLE
    assert params.media_mode == LineMediaMode.INTERACTIVEVOICE


def test_the_pixit_dial_form_replaces_translation(make: Callable[..., Tapi32Backend]) -> None:
    backend = make(with_pixit(party_line_options={"caller": {"dial_prefix": "9"}}))
    emulator = emulator_of(backend)
    backend.parties.call("caller", "+49891234201")
    assert emulator.dialled[-1] == "90049891234201" and emulator.calls["lineTranslateAddressW"] == 0
    backend.parties.call("caller", "201")                   # not canonical: dialled as it is
    assert emulator.dialled[-1] == "201"


def test_a_canonical_number_still_reaches_the_desk_through_translation(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    backend.parties.call("caller", REFERENCE.stations[0].business_number)
    offer = desk.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == LineCallState.OFFERING)
    assert offer.device
    assert not any(d.startswith("+") and " " in d for d in emulator_of(backend).dialled)


# ----- Cisco-like party lines: media modes, lineAccept ------------------------------------------


def test_party_line_media_modes_and_accept_before_answer(make: Callable[..., Tapi32Backend]) -> None:
    options = {"remote_office": {"media_modes": ["AUTOMATEDVOICE", "INTERACTIVEVOICE"], "accept": True}}
    backend = make(with_pixit(party_line_options=options))
    emulator = emulator_of(backend)
    role = backend.parties._roles["remote_office"]
    wanted = LineMediaMode.AUTOMATEDVOICE | LineMediaMode.INTERACTIVEVOICE
    assert emulator.provider.lines[role.line].media_modes == wanted
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "001711234567"))
    assert backend.parties.wait_for("remote_office", frozenset({"connected"}), 30) is not None
    order = [name for name, _ in emulator.sequence if name in ("lineAccept", "lineAnswer")]
    assert order[:2] == ["lineAccept", "lineAnswer"]
    accepted = next(h for name, h in emulator.sequence if name == "lineAccept")
    answered = next(h for name, h in emulator.sequence if name == "lineAnswer")
    assert accepted == answered


def test_an_address_that_wants_accept_to_alert_gets_lineaccept(make: Callable[..., Tapi32Backend]) -> None:
    backend = make(open_parties=False)
    real = backend.line_get_address_caps

    def accept_to_alert(*args: Any) -> LineAddressCaps:
        caps = real(*args)
        return dataclasses.replace(caps, addr_cap_flags=caps.addr_cap_flags | LineAddrCapFlags.ACCEPTTOALERT)
    patched: Any = backend
    patched.line_get_address_caps = accept_to_alert
    backend.parties.open()
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "00301234567"))
    assert backend.parties.wait_for("target", frozenset({"connected"}), 30) is not None
    assert emulator_of(backend).calls["lineAccept"] == 1


def test_an_unknown_media_mode_is_a_clear_error() -> None:
    with pytest.raises(TapiError, match="unknown media mode 'VOICE'"):
        Tapi32Backend.emulated(with_pixit(party_line_options={"target": {"media_modes": ["VOICE"]}}),
                               operator=NOBODY)


# ----- ownership --------------------------------------------------------------------------------


def _owned_elsewhere(make: Callable[..., Tapi32Backend], refuse: int = 0) -> tuple[Tapi32Backend, Desk]:
    backend = make(open_parties=False)
    emulator_of(backend).refuse_privilege = refuse
    other, _, _ = backend.line_initialize_ex("another CTI application")
    backend.line_open(other, device_named(backend, other, "0301234567"), V22)     # OWNER first
    backend.parties.open()
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "00301234567"))
    return backend, desk


def test_a_call_another_application_owns_is_taken_over(make: Callable[..., Tapi32Backend]) -> None:
    backend, _desk = _owned_elsewhere(make)
    target = backend.parties.wait_for("target", frozenset({"connected"}), 30)
    assert target is not None and target.state == "connected"
    assert emulator_of(backend).calls["lineSetCallPrivilege"] == 1


def test_not_owner_is_reported_at_once_not_as_a_timeout(make: Callable[..., Tapi32Backend]) -> None:
    backend, _desk = _owned_elsewhere(make, refuse=LineErr.INVALCALLSTATE)
    start = backend.now()
    with pytest.raises(LineError, match="not owner") as info:
        backend.parties.wait_for("target", frozenset({"connected"}), 30)
    assert info.value.code == LineErr.NOTOWNER
    assert backend.now() - start < 30


# ----- caller IDs and their flags ---------------------------------------------------------------


def test_presentation_follows_the_flags() -> None:
    assert presentation_of(LineCallPartyId.ADDRESS, "+4989") == "shown"
    assert presentation_of(LineCallPartyId.BLOCKED | LineCallPartyId.ADDRESS, "+4989") == "withheld"
    assert presentation_of(LineCallPartyId.OUTOFAREA, "") == "unavailable"
    assert presentation_of(LineCallPartyId.UNAVAIL, "") == "unavailable"
    assert presentation_of(LineCallPartyId.UNKNOWN, "") == "unknown"
    assert presentation_of(0, "") == "unknown"
    assert PartyView("target", "alerting", presented_number="1").presentation == "shown"
    # a name without a valid number: the number was not presented (an observation, not "unknown")
    assert presentation_of(LineCallPartyId.NAME, "") == "name_only"
    assert presentation_of(LineCallPartyId.NAME, "+4989") == "name_only"          # digits without ADDRESS
    assert presentation_of(LineCallPartyId.NAME | LineCallPartyId.ADDRESS, "+4989") == "shown"
    assert presentation_of(LineCallPartyId.NAME | LineCallPartyId.BLOCKED, "") == "withheld"
    assert presentation_of(LineCallPartyId.NAME | LineCallPartyId.OUTOFAREA, "") == "unavailable"


@pytest.mark.parametrize(("rule", "expected"), [("withheld", "withheld"), ("business", "shown")])
def test_a_withheld_caller_is_not_an_unknown_one(make: Callable[..., Tapi32Backend], rule: str,
                                                  expected: str) -> None:
    caller_id = dataclasses.replace(REFERENCE.capabilities.caller_id, direct=rule)  # type: ignore[arg-type]
    profile = dataclasses.replace(REFERENCE, capabilities=dataclasses.replace(REFERENCE.capabilities,
                                                                              caller_id=caller_id))
    backend = make(profile)
    backend.parties.set_auto_answer("target", False)
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "00301234567"))
    view = backend.parties.wait_for("target", frozenset({"alerting"}), 30)
    assert view is not None and view.presentation == expected
    assert bool(view.presented_number) == (expected == "shown")


def test_digits_sent_with_blocked_are_not_shown(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    real = backend.line_get_call_info

    def sloppy_tsp(h_call: int) -> LineCallInfo:
        return dataclasses.replace(real(h_call), caller_id_flags=int(LineCallPartyId.BLOCKED),
                                   caller_id="+49891234201")
    backend.line_get_call_info = sloppy_tsp   # type: ignore[method-assign]
    backend.parties.set_auto_answer("target", False)
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "00301234567"))
    view = backend.parties.wait_for("target", frozenset({"alerting"}), 30)
    assert view is not None and view.presentation == "withheld" and view.presented_number == ""


def test_a_name_without_its_number_is_name_only(make: Callable[..., Tapi32Backend]) -> None:
    """A TSP that fills dwCallerIDName with LINECALLPARTYID_NAME but no ADDRESS: the party line reports
    "name_only" with the name, no presented number (docs/tapi.md §8.5)."""
    backend = make()
    real = backend.line_get_call_info

    def name_only_tsp(h_call: int) -> LineCallInfo:
        return dataclasses.replace(real(h_call), caller_id_flags=int(LineCallPartyId.NAME),
                                   caller_id="+49891234201", caller_id_name="Office 201")
    backend.line_get_call_info = name_only_tsp   # type: ignore[method-assign]
    backend.parties.set_auto_answer("target", False)
    desk = Desk(backend)
    desk.reply(backend.line_make_call(desk.line, "00301234567"))
    view = backend.parties.wait_for("target", frozenset({"alerting"}), 30)
    assert view is not None
    assert (view.presentation, view.presented_number, view.presented_name) == ("name_only", "", "Office 201")


# ----- kept buffers, truncation --------------------------------------------------------------------


def test_pending_buffers_are_per_application(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    other, _, _ = backend.line_initialize_ex("another application")
    request = backend.line_make_call(desk.line, "00301234567")
    # Request ids are unique per application only: another app's reply with the same id is not ours.
    emulator_of(backend).inject(other, LineMsg.REPLY, 0, request, 0)
    assert backend.line_get_message(other, 5) is not None
    assert (desk.app, request) in backend._pending
    assert desk.reply(request).new_call


def test_pending_buffers_go_with_their_call(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    h_call = desk.reply(backend.line_make_call(desk.line, "00301234567")).new_call
    desk.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.device == h_call and m.param1 == LineCallState.CONNECTED)
    request = backend.line_setup_transfer(h_call)
    assert (desk.app, request) in backend._pending
    fn: Any = backend.fn
    fn.lineDeallocateCall = lambda h: 0        # a TSP that lets the handle go at once
    backend.line_deallocate_call(h_call)
    assert (desk.app, request) not in backend._pending


def test_still_truncated_after_the_last_round_is_an_error(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    fn: Any = backend.fn
    real = fn.lineGetDevCapsW

    def growing(*args: Any) -> int:                     # dwNeededSize always a little more than given
        result: int = real(*args)
        caps = args[-1]
        caps.contents.dwNeededSize = caps.contents.dwTotalSize + 16
        return result
    fn.lineGetDevCapsW = growing
    with pytest.raises(LineError) as info:
        backend.line_get_dev_caps(desk.app, 0, V22)
    assert info.value.code == LineErr.STRUCTURETOOSMALL and "grow-and-retry" in str(info.value)


# ----- provider-initiated messages, shutdown order -------------------------------------------------


def test_line_close_remove_create_and_reinit_update_the_adapter(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    emulator = emulator_of(backend)
    assert backend.is_open(desk.line)
    emulator.inject(desk.app, LineMsg.CLOSE, desk.line)
    desk.wait(lambda m: m.msg == LineMsg.CLOSE)
    assert not backend.is_open(desk.line)
    count = backend.device_count(desk.app)
    emulator.inject(desk.app, LineMsg.CREATE, 0, count)
    desk.wait(lambda m: m.msg == LineMsg.CREATE)
    assert backend.device_count(desk.app) == count + 1
    again = backend.line_open(desk.app, 0, V22)
    emulator.inject(desk.app, LineMsg.REMOVE, 0, 0)
    desk.wait(lambda m: m.msg == LineMsg.REMOVE)
    assert 0 in backend.removed_devices and not backend.is_open(again)
    assert not backend.needs_reinit(desk.app)
    emulator.inject(desk.app, LineMsg.LINEDEVSTATE, desk.line, int(LineDevState.REINIT))
    desk.wait(lambda m: m.msg == LineMsg.LINEDEVSTATE)
    assert backend.needs_reinit(desk.app)


def test_lines_are_closed_before_shutdown(make: Callable[..., Tapi32Backend]) -> None:
    backend = make()
    desk = Desk(backend)
    emulator = emulator_of(backend)
    start = len(emulator.sequence)
    backend.line_shutdown(desk.app)
    names = [(name, arg) for name, arg in emulator.sequence[start:]]
    assert names.index(("lineClose", desk.line)) < names.index(("lineShutdown", desk.app))


# ----- the operator ------------------------------------------------------------------------------


def test_scripted_operator_answers_what_a_person_would(tmp_path: Path, make: Callable[..., Tapi32Backend]) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text('answers:\n'
                       '  - {prompt: "remote_office .* is alerting", answer: true}\n'
                       '  - {prompt: "what number does remote_office", answer: "+49891234201"}\n'
                       '  - {prompt: "target .* is alerting", answer: true}\n'
                       '  - {prompt: "what number does target", answer: ""}\n', encoding="utf-8")
    operator = ScriptedOperator.load(answers)
    profile = with_pixit(party_lines={"remote_office": "No such line", "target": "No such line",
                                      "caller": "No such line"})
    backend = make(profile, operator=operator)
    assert backend.parties.how("remote_office") == "operator"
    ro = backend.parties.wait_for("remote_office", frozenset({"alerting"}), 5)
    assert ro is not None and ro.presented_number == "+49891234201" and ro.presentation == "shown"
    target = backend.parties.wait_for("target", frozenset({"alerting"}), 5)
    assert target is not None and target.presentation == "withheld"
    assert backend.parties.wait_for("caller", frozenset({"connected"}), 5) is None     # nothing scripted
    assert any("no scripted answer" in line for line in operator.transcript)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_terminal_operator_asks_on_the_terminal_and_gives_up_in_time() -> None:
    master, slave = os.openpty()
    operator = TerminalOperator(os.ttyname(slave))
    try:
        assert operator.available()
        os.write(master, b"+49891234201\n")
        assert operator.ask("What number does remote_office show?", 5) == "+49891234201"
        assert operator.confirm("Answer the ringing call at target", 0.1) is False    # nothing typed
        shown = os.read(master, 4096).decode()
        assert "[operator] What number does remote_office show?" in shown
        assert operator.transcript[-1] == "  (timed out)"
    finally:
        operator.close()
        os.close(master)
        os.close(slave)
    nobody = TerminalOperator("/nonexistent/tty")
    assert not nobody.available() and nobody.ask("anyone?", 5) is None


def test_who_operates_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RO_CONFORMANCE_ANSWERS", raising=False)
    monkeypatch.delenv("RO_CONFORMANCE_OPERATOR", raising=False)
    assert isinstance(default_operator(), NoOperator)          # a test run never waits for a person
    monkeypatch.setenv("RO_CONFORMANCE_OPERATOR", "terminal")
    assert isinstance(default_operator(), TerminalOperator)
    answers = tmp_path / "a.yaml"
    answers.write_text("answers: []\n", encoding="utf-8")
    monkeypatch.setenv("RO_CONFORMANCE_ANSWERS", str(answers))
    assert isinstance(default_operator(), ScriptedOperator)


def test_a_broken_answers_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("answers:\n  - {prompt: '('}\n", encoding="utf-8")
    with pytest.raises(TapiError, match=r"bad.yaml: answers\[0\] needs 'prompt' and 'answer'"):
        ScriptedOperator.load(bad)


# ----- structure --------------------------------------------------------------------------------


def test_party_control_does_not_import_the_adapter() -> None:
    source = (ROOT / "conformance" / "backends" / "tapi32" / "_parties.py").read_text(encoding="utf-8")
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    assert "conformance.backends.tapi32._adapter" not in imported
    assert ctypes.sizeof(ctypes.c_uint32) == 4


def test_the_suites_hands_free_calls_pass_origoffhook_and_idle(make: Callable[..., Tapi32Backend]) -> None:
    from conformance.suite._desk import open_desk_line
    from conformance.suite._flows import make_ro_leg
    from conformance.suite._session import LineSession

    backend: Any = make()
    session = LineSession(backend, REFERENCE, open_desk_line(backend, REFERENCE))
    make_ro_leg(session)
    params = emulator_of(backend).made_with[-1]
    assert params is not None
    assert params.call_param_flags == LineCallParamFlags.ORIGOFFHOOK | LineCallParamFlags.IDLE
