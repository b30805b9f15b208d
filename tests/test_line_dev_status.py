"""lineGetLineDevStatus through every backend, and what the suite makes of a desk line out of service.

* ``sim``, ``bridge`` (a virtual-clock SimBackend served on a thread) and ``tapi32:emulated`` (the adapter
  over the double, through its C export) give the same LINEDEVSTATUS for the same line: CONNECTED and
  INSERVICE on a working line, the calls the address holds, LINEFEATURE_MAKECALL; an out-of-service line
  (the ``out_of_service`` fault) loses INSERVICE, MAKECALL and its available media modes; a bogus or closed
  hLine is LINEERR_INVALLINEHANDLE.
* The double fills the fixed part of the line's negotiated version (76 bytes below TAPI 2.0, 88 from 2.0)
  and refuses a smaller dwTotalSize with STRUCTURETOOSMALL; the adapter grows its buffer until it fits.
* ``replay:`` serves a recorded lineGetLineDevStatus, its value and its error.
* The suite: a lineMakeCall refused LINEERR_INVALLINESTATE on a desk line LINEDEVSTATUS reports out of
  service is an error naming dwDevStatusFlags, citing the refusal and the LINEDEVSTATUS read; on a line
  reported in service the same refusal stays a fail.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import pytest
from suite_runner import derived_profile, run_suite

from conformance._evidence import check_results
from conformance._trace import TraceBackend, write_trace
from conformance.backend import Backend
from conformance.backends.bridge import BridgeBackend
from conformance.backends.replay import ReplayBackend
from conformance.backends.sim import SimBackend
from conformance.backends.tapi32 import Tapi32Backend
from conformance.backends.tapi32._structs import LINEDEVSTATUS, LINEINITIALIZEEXPARAMS
from conformance.backends.tapi32_double import Tapi32Double
from conformance.bridge.server import BridgeServer, ServerThread
from conformance.suite._session import open_desk_line
from simulator._constants import LineDevStatusFlags, LineErr, LineFeature, LineMediaMode, LineMsg
from simulator._errors import LineError
from simulator._messages import signed_long
from simulator._profile import load_profile
from simulator._profile_model import Profile
from simulator._structs import LineDevStatus

pytest_plugins = ("pytester",)

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
REFERENCE = load_profile(PROFILES / "reference.yaml")
OUT_OF_SERVICE = load_profile(PROFILES / "mutants" / "desk-out-of-service.yaml")
KINDS = ("sim", "bridge", "tapi32:emulated")
BOGUS = 0x0BAD0BAD
DWORD = ctypes.c_uint32
UP = int(LineDevStatusFlags.CONNECTED | LineDevStatusFlags.INSERVICE)


@contextmanager
def backend(kind: str, profile: Profile) -> Iterator[Backend]:
    if kind == "sim":
        sim = SimBackend(profile)
        yield cast(Backend, sim)
        sim.close()
    elif kind == "bridge":
        with ServerThread(BridgeServer(SimBackend(profile), mode="virtual")) as st:
            client = BridgeBackend.from_spec(st.url, None)
            yield cast(Backend, client)
            client.close()
    else:
        adapter = Tapi32Backend.emulated(profile)
        yield cast(Backend, adapter)
        adapter.close()
        assert adapter.errors == [] and cast(Tapi32Double, adapter.fn.source).errors == []


def _reply(b: Backend, app: int, request: int) -> int:
    deadline = b.now() + 30.0
    while (left := deadline - b.now()) > 0 and (m := b.line_get_message(app, left)) is not None:
        if m.msg == LineMsg.REPLY and m.request_id == request:
            assert m.result == 0, m.describe()
            return m.new_call
    raise AssertionError(f"no LINE_REPLY for request {request}")


def _code(exc: pytest.ExceptionInfo[LineError]) -> str:
    return LineErr(exc.value.code).tapi_name


@pytest.mark.parametrize("kind", KINDS)
def test_a_working_desk_line_is_connected_and_in_service(kind: str) -> None:
    with backend(kind, REFERENCE) as b:
        desk = open_desk_line(b, REFERENCE)
        idle = b.line_get_line_dev_status(desk.h_line)
        assert isinstance(idle, LineDevStatus)
        assert idle.dev_status_flags == UP
        assert idle.line_features & LineFeature.MAKECALL
        assert idle.num_opens >= 1 and idle.open_media_modes & LineMediaMode.INTERACTIVEVOICE
        assert idle.available_media_modes & LineMediaMode.INTERACTIVEVOICE
        assert (idle.num_active_calls, idle.num_on_hold_calls, idle.num_on_hold_pend_calls) == (0, 0, 0)
        h_call = _reply(b, desk.h_line_app, b.line_make_call(desk.h_line, REFERENCE.dial_string(
            REFERENCE.pixit.target)))
        assert h_call and b.line_get_line_dev_status(desk.h_line).num_active_calls == 1
        _reply(b, desk.h_line_app, b.line_drop(h_call))
        with pytest.raises(LineError) as bogus:
            b.line_get_line_dev_status(BOGUS)
        assert _code(bogus) == "LINEERR_INVALLINEHANDLE"
        b.line_close(desk.h_line)
        with pytest.raises(LineError) as closed:
            b.line_get_line_dev_status(desk.h_line)
        assert _code(closed) == "LINEERR_INVALLINEHANDLE"


@pytest.mark.parametrize("kind", KINDS)
def test_an_out_of_service_desk_line_says_so(kind: str) -> None:
    with backend(kind, OUT_OF_SERVICE) as b:
        desk = open_desk_line(b, OUT_OF_SERVICE)
        status = b.line_get_line_dev_status(desk.h_line)
        assert status.dev_status_flags == LineDevStatusFlags.CONNECTED       # INSERVICE cleared
        assert not status.line_features & LineFeature.MAKECALL and status.available_media_modes == 0
        with pytest.raises(LineError) as refused:
            b.line_make_call(desk.h_line, "0301234567")
        assert _code(refused) == "LINEERR_INVALLINESTATE"


def test_the_double_fills_the_fixed_part_of_the_negotiated_version() -> None:
    """76 bytes on a TAPI 1.4 line (no dwAvailableMediaModes), 88 on a 2.2 line; less: STRUCTURETOOSMALL
    with dwNeededSize set; NULL: INVALPOINTER; a bogus hLine: INVALLINEHANDLE."""
    emu = Tapi32Double(REFERENCE)
    h_app, n_devs, version = DWORD(), DWORD(), DWORD(0x00020002)
    params = LINEINITIALIZEEXPARAMS()
    params.dwTotalSize, params.dwOptions = ctypes.sizeof(params), 2
    assert emu.lineInitializeExW(ctypes.byref(h_app), None, None, None, ctypes.byref(n_devs),
                                 ctypes.byref(version), ctypes.byref(params)) == 0
    as_status = ctypes.POINTER(LINEDEVSTATUS)
    for api, fixed in ((0x00010004, 76), (0x00020002, 88)):
        h_line = DWORD()
        assert emu.lineOpenW(h_app.value, 0, ctypes.byref(h_line), api, 0, 0, 6, 4, None) == 0
        small = ctypes.create_string_buffer(128)
        DWORD.from_buffer(small).value = fixed - 4
        assert emu.lineGetLineDevStatusW(h_line.value, ctypes.cast(small, as_status)) == \
            signed_long(LineErr.STRUCTURETOOSMALL)
        assert DWORD.from_buffer(small, 4).value == fixed
        buf = ctypes.create_string_buffer(128)
        DWORD.from_buffer(buf).value = 128
        assert emu.lineGetLineDevStatusW(h_line.value, ctypes.cast(buf, as_status)) == 0
        raw = LINEDEVSTATUS.from_buffer_copy(buf.raw[:ctypes.sizeof(LINEDEVSTATUS)])
        assert (raw.dwTotalSize, raw.dwNeededSize, raw.dwUsedSize) == (128, fixed, fixed)
        assert raw.dwDevStatusFlags == UP
        if fixed == 88:
            assert raw.dwAvailableMediaModes & LineMediaMode.INTERACTIVEVOICE
        else:                                        # a 1.x line has no such field: nothing written there
            assert raw.dwAvailableMediaModes == 0
        assert emu.lineGetLineDevStatusW(h_line.value, None) == signed_long(LineErr.INVALPOINTER)
    assert emu.lineGetLineDevStatusW(BOGUS, ctypes.cast(buf, as_status)) == signed_long(LineErr.INVALLINEHANDLE)
    assert emu.errors == []


def test_the_adapter_grows_its_buffer_until_the_status_fits() -> None:
    adapter = Tapi32Backend.emulated(REFERENCE)
    try:
        desk = open_desk_line(cast(Backend, adapter), REFERENCE)
        adapter.initial_size = 8                     # below the fixed part: STRUCTURETOOSMALL, then grow
        grown = adapter.line_get_line_dev_status(desk.h_line)
        adapter.initial_size = None
        assert grown == adapter.line_get_line_dev_status(desk.h_line) and grown.dev_status_flags == UP
        calls = cast(Tapi32Double, adapter.fn.source).calls["lineGetLineDevStatusW"]
        assert calls == 3                            # 8 bytes refused, 88 filled, then the default size
    finally:
        adapter.close()


def test_replay_serves_the_recorded_status_and_its_error(tmp_path: Path) -> None:
    traced = TraceBackend(cast(Backend, SimBackend(OUT_OF_SERVICE)), test="t::status")
    h_app, _, _ = traced.line_initialize_ex("app")
    h_line = traced.line_open(h_app, 0, 0x00020002)
    recorded = traced.line_get_line_dev_status(h_line)
    with pytest.raises(LineError):
        traced.line_get_line_dev_status(BOGUS)
    traced.close()
    path = tmp_path / "trace.jsonl"
    write_trace(path, {"suite_version": "x"}, [traced.session()])
    replay = ReplayBackend(path)
    replay.bind_test("t::status")
    assert replay.line_initialize_ex("app")[0] == h_app
    assert replay.line_open(h_app, 0, 0x00020002) == h_line
    assert replay.line_get_line_dev_status(h_line) == recorded
    assert recorded.dev_status_flags == LineDevStatusFlags.CONNECTED
    with pytest.raises(LineError) as refused:
        replay.line_get_line_dev_status(BOGUS)
    assert _code(refused) == "LINEERR_INVALLINEHANDLE"
    replay.close()


def _orig(results: dict[str, object]) -> dict[str, object]:
    tests = cast(list[dict[str, object]], results["tests"])
    return next(t for t in tests if t["id"] == "RO-ORIG-01")


def test_the_suite_names_the_line_state_instead_of_failing(pytester: pytest.Pytester) -> None:
    """RO-ORIG-01 on the out-of-service desk: an error naming dwDevStatusFlags, citing both records."""
    _, results = run_suite(pytester, PROFILES / "mutants" / "desk-out-of-service.yaml", "-k", "orig_01")
    assert check_results(results) == []
    orig = _orig(results)
    reason = str(orig["reason"])
    assert orig["outcome"] == "error", reason
    assert "LINEERR_INVALLINESTATE" in reason and "the desk line is not in service" in reason
    assert "dwDevStatusFlags=0x00000001 (dev_status_flags=LINEDEVSTATUSFLAGS_CONNECTED), " \
           "no LINEDEVSTATUSFLAGS_INSERVICE" in reason
    judged = cast(list[dict[str, object]], orig["judged"])
    assert [c["kind"] for c in judged] == ["error", "value"]
    assert cast(dict[str, object], judged[1]["facts"])["function"] == "lineGetLineDevStatus"


def test_an_invallinestate_on_a_line_in_service_is_still_the_pbxs_fail(pytester: pytest.Pytester,
                                                                       tmp_path: Path) -> None:
    """The same refusal as a profile fault (reply_error on lineMakeCall) while LINEDEVSTATUS says CONNECTED
    and INSERVICE: nothing excuses it, RO-ORIG-01 fails."""
    path = derived_profile(tmp_path, "reference", "makecall-invallinestate", [
        {"kind": "reply_error", "function": "lineMakeCall", "error": "LINEERR_INVALLINESTATE"}])
    _, results = run_suite(pytester, path, "-k", "orig_01")
    assert check_results(results) == []
    orig = _orig(results)
    assert orig["outcome"] == "fail", orig["reason"]
    assert "LINEERR_INVALLINESTATE" in str(orig["reason"]) and "not in service" not in str(orig["reason"])
