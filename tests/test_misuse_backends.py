"""TAPI misuse gives the same real LINEERR code on every backend and leaves the provider usable.

Parametrized over ``sim`` (in-process), ``bridge`` (a virtual-clock SimBackend served on a thread of
this process) and ``tapi32:emulated`` (the adapter over the emulated DLL). Every case is written against
the Backend contract only, asserts the *code* (never the message), and ends with ``assert_usable``: a
normal lineMakeCall + lineDrop + lineDeallocateCall still works on the same application and line, and
the provider holds no call afterwards. The emulated DLL also gets the C-level misuse only a DLL can
see: NULL out-pointers (LINEERR_INVALPOINTER) and dwTotalSize below the fixed part
(LINEERR_STRUCTURETOOSMALL), through the adapter's own function table.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from conformance.backend import Backend
from conformance.backends.bridge import BridgeBackend
from conformance.backends.sim import SimBackend
from conformance.backends.tapi32 import Tapi32Backend
from conformance.backends.tapi32._structs import LINEADDRESSSTATUS, LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS
from conformance.backends.tapi32_double import Tapi32Double
from conformance.bridge.server import BridgeServer, ServerThread
from conformance.suite._session import API_HIGH, API_LOW, DeskLine, open_desk_line
from simulator._constants import LineCallState, LineErr, LineForwardMode, LineMsg, LineTransferMode
from simulator._errors import LineError
from simulator._messages import LineMessage
from simulator._profile import load_profile
from simulator._profile_model import Profile
from simulator._structs import LineForward

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"
PROFILE: Profile = load_profile(REFERENCE)
S = LineCallState
MONITOR, OWNER = 0x2, 0x4
BOGUS = 0x0BAD0BAD
DWORD = ctypes.c_uint32


@dataclass
class Subject:
    """One backend under test, how to count the calls its provider holds, and the opened desk line."""

    name: str
    backend: Backend
    live_calls: Callable[[], int]
    desk: DeskLine | None = None

    # ----- bounded waits ----------------------------------------------------------------------
    def wait(self, app: int, pred: Callable[[LineMessage], bool], what: str, timeout: float = 30.0) -> LineMessage:
        deadline = self.backend.now() + timeout
        while (left := deadline - self.backend.now()) > 0:
            msg = self.backend.line_get_message(app, left)
            if msg is None:
                break
            if pred(msg):
                return msg
        raise AssertionError(f"{self.name}: no {what} within {timeout:g} s")

    def reply(self, app: int, req: int) -> LineMessage:
        return self.wait(app, lambda m: m.msg == LineMsg.REPLY and m.request_id == req, f"LINE_REPLY {req}")

    def state(self, app: int, h_call: int, states: int) -> None:
        self.wait(app, lambda m: m.msg == LineMsg.CALLSTATE and m.device == h_call and bool(m.param1 & states),
                  f"call 0x{h_call:08X} in 0x{states:X}")

    # ----- the desk -------------------------------------------------------------------------------
    @property
    def line(self) -> DeskLine:
        if self.desk is None:
            self.desk = open_desk_line(self.backend, PROFILE)
        return self.desk

    def make_call(self, number: str, until: int = int(S.DIALTONE | S.DIALING | S.PROCEEDING | S.RINGBACK)) -> int:
        """lineMakeCall from the desk; the handle once the call reached one of ``until``."""
        app = self.line.h_line_app
        reply = self.reply(app, self.backend.line_make_call(self.line.h_line, PROFILE.dial_string(number)))
        assert reply.result == 0 and reply.new_call, reply
        self.state(app, reply.new_call, until)
        return reply.new_call

    def drop(self, h_call: int) -> None:
        app = self.line.h_line_app
        assert self.reply(app, self.backend.line_drop(h_call)).result == 0
        self.state(app, h_call, int(S.IDLE))
        self.backend.line_deallocate_call(h_call)

    def settle(self, seconds: float = 5.0) -> None:
        """Let (virtual) time pass on the desk app so parties finish hanging up."""
        deadline = self.backend.now() + seconds
        while (left := deadline - self.backend.now()) > 0 and \
                self.backend.line_get_message(self.line.h_line_app, left) is not None:
            pass


def assert_usable(s: Subject) -> None:
    """After the misuse: a normal call still works, and afterwards no call is left anywhere."""
    h_call = s.make_call(PROFILE.pixit.target)
    s.drop(h_call)
    s.settle()
    assert s.live_calls() == 0, f"{s.name}: calls leaked"
    with pytest.raises(LineError) as caught:
        s.backend.line_get_call_status(h_call)
    assert caught.value.code == LineErr.INVALCALLHANDLE


def assert_code(code: int, fn: Callable[..., Any], *args: Any) -> None:
    with pytest.raises(LineError) as caught:
        fn(*args)
    assert caught.value.code == code, f"{caught.value} (wanted {LineErr(code).tapi_name})"


# ----- the three backends -----------------------------------------------------------------------

def _sim() -> Iterator[Subject]:
    backend = SimBackend(PROFILE)
    yield Subject("sim", cast(Backend, backend), lambda: len(backend.live_calls()))
    backend.close()


def _bridge() -> Iterator[Subject]:
    served = SimBackend(PROFILE)
    with ServerThread(BridgeServer(served, mode="virtual")) as st:
        client = BridgeBackend.from_spec(st.url, None)
        yield Subject("bridge", cast(Backend, client), lambda: int(st.call(lambda: len(served.live_calls()))))
        client.close()


def _tapi32() -> Iterator[Subject]:
    backend = Tapi32Backend.emulated(PROFILE)
    emulator = backend.fn.source
    assert isinstance(emulator, Tapi32Double)
    yield Subject("tapi32", cast(Backend, backend), lambda: len(emulator.provider.live_calls()))
    backend.close()
    assert backend.errors == [] and emulator.errors == []


MAKERS = {"sim": _sim, "bridge": _bridge, "tapi32:emulated": _tapi32}


@pytest.fixture(params=sorted(MAKERS))
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    yield from MAKERS[request.param]()


# ----- wrong handles ----------------------------------------------------------------------------

def test_bogus_handles(subject: Subject) -> None:
    b, line = subject.backend, subject.line
    assert_code(LineErr.INVALAPPHANDLE, b.line_open, BOGUS, line.device_id, line.api_version)
    assert_code(LineErr.INVALAPPHANDLE, b.line_negotiate_api_version, BOGUS, line.device_id, API_LOW, API_HIGH)
    assert_code(LineErr.INVALAPPHANDLE, b.line_get_message, BOGUS, 0.0)
    assert_code(LineErr.INVALAPPHANDLE, b.line_shutdown, BOGUS)
    assert_code(LineErr.INVALLINEHANDLE, b.line_make_call, BOGUS, "0301234567")
    assert_code(LineErr.INVALLINEHANDLE, b.line_get_address_status, BOGUS, 0)
    assert_code(LineErr.INVALLINEHANDLE, b.line_get_line_dev_status, BOGUS)
    assert_code(LineErr.INVALLINEHANDLE, b.line_close, BOGUS)
    for fn in (b.line_drop, b.line_answer, b.line_hold, b.line_get_call_status, b.line_get_call_info,
               b.line_deallocate_call):
        assert_code(LineErr.INVALCALLHANDLE, fn, BOGUS)
    assert_usable(subject)


def test_deallocated_call_handle(subject: Subject) -> None:
    b = subject.backend
    h_call = subject.make_call(PROFILE.pixit.target)
    subject.drop(h_call)                                  # drop + deallocate: the handle is dead now
    for fn in (b.line_drop, b.line_answer, b.line_get_call_status, b.line_deallocate_call):
        assert_code(LineErr.INVALCALLHANDLE, fn, h_call)
    assert_code(LineErr.INVALCALLHANDLE, b.line_dial, h_call, "0301234567")
    assert_usable(subject)


def test_closed_line_and_shut_down_application(subject: Subject) -> None:
    b, line = subject.backend, subject.line
    b.line_close(line.h_line)
    assert_code(LineErr.INVALLINEHANDLE, b.line_make_call, line.h_line, "0301234567")
    assert_code(LineErr.INVALLINEHANDLE, b.line_forward, line.h_line, False, 0, None, 0)
    assert_code(LineErr.INVALLINEHANDLE, b.line_get_line_dev_status, line.h_line)
    assert_code(LineErr.INVALLINEHANDLE, b.line_close, line.h_line)
    other, _, _ = b.line_initialize_ex("misuse")
    b.line_shutdown(other)
    assert_code(LineErr.INVALAPPHANDLE, b.line_open, other, line.device_id, line.api_version)
    assert_code(LineErr.INVALAPPHANDLE, b.line_shutdown, other)
    # the desk application survived both: reopen its line and use it
    subject.desk = open_desk_line(b, PROFILE, reuse=line)
    assert_usable(subject)


# ----- wrong states -------------------------------------------------------------------------------

def test_wrong_call_states(subject: Subject) -> None:
    b = subject.backend
    dialing = subject.make_call(PROFILE.pixit.target, int(S.DIALING | S.PROCEEDING))
    assert_code(LineErr.INVALCALLSTATE, b.line_answer, dialing)
    subject.drop(dialing)
    ringing = subject.make_call(PROFILE.pixit.target, int(S.RINGBACK))
    assert_code(LineErr.INVALCALLSTATE, b.line_blind_transfer, ringing, "0409876543")
    subject.state(subject.line.h_line_app, ringing, int(S.CONNECTED))
    connected = ringing
    assert_code(LineErr.INVALCALLSTATE, b.line_dial, connected, "123")
    assert_code(LineErr.INVALCALLSTATE, b.line_complete_transfer, connected, connected,
                int(LineTransferMode.TRANSFER))                           # no lineSetupTransfer before
    assert_code(LineErr.INVALCONSULTCALLHANDLE, b.line_complete_transfer, connected, BOGUS,
                int(LineTransferMode.TRANSFER))
    subject.drop(connected)
    assert_usable(subject)


# ----- wrong privileges -------------------------------------------------------------------------

def test_monitor_only_line_cannot_drop_or_answer(subject: Subject) -> None:
    b, desk = subject.backend, subject.line
    watcher, _, _ = b.line_initialize_ex("monitor")
    b.line_open(watcher, desk.device_id, desk.api_version, 0, 0, MONITOR, 0)
    # an incoming call: the desk app owns it, the watcher only monitors it
    b.parties.call("caller", PROFILE.station(PROFILE.pixit.desk).business_number)
    offer = subject.wait(watcher, lambda m: m.msg == LineMsg.APPNEWCALL, "LINE_APPNEWCALL on the monitor")
    assert offer.param3 == MONITOR
    monitored = offer.param2
    subject.state(watcher, monitored, int(S.OFFERING))
    assert_code(LineErr.NOTOWNER, b.line_answer, monitored)
    assert_code(LineErr.NOTOWNER, b.line_drop, monitored)
    owned = subject.wait(desk.h_line_app, lambda m: m.msg == LineMsg.CALLSTATE and bool(m.param1 & S.OFFERING),
                         "the OFFERING call on the desk").device
    assert subject.reply(desk.h_line_app, b.line_answer(owned)).result == 0      # the owner can
    subject.state(desk.h_line_app, owned, int(S.CONNECTED))
    subject.drop(owned)
    b.line_shutdown(watcher)
    assert_usable(subject)


def test_set_call_privilege_takes_and_gives_back_ownership(subject: Subject) -> None:
    """lineSetCallPrivilege on every backend: a monitor becomes an owner and can answer; bad privilege,
    bad handle and the sole owner of a live call stepping down are refused with the TAPI codes."""
    b, desk = subject.backend, subject.line
    watcher, _, _ = b.line_initialize_ex("monitor")
    b.line_open(watcher, desk.device_id, desk.api_version, 0, 0, MONITOR, 0)
    b.parties.call("caller", PROFILE.station(PROFILE.pixit.desk).business_number)
    offer = subject.wait(watcher, lambda m: m.msg == LineMsg.APPNEWCALL, "LINE_APPNEWCALL on the monitor")
    monitored = offer.param2
    subject.state(watcher, monitored, int(S.OFFERING))
    assert_code(LineErr.INVALCALLPRIVILEGE, b.line_set_call_privilege, monitored, int(OWNER | MONITOR))
    assert_code(LineErr.INVALCALLPRIVILEGE, b.line_set_call_privilege, monitored, 0)
    assert_code(LineErr.INVALCALLHANDLE, b.line_set_call_privilege, BOGUS, int(OWNER))
    b.line_set_call_privilege(monitored, int(OWNER))
    assert b.line_get_call_status(monitored).call_privilege == OWNER
    owned = subject.wait(desk.h_line_app, lambda m: m.msg == LineMsg.CALLSTATE and bool(m.param1 & S.OFFERING),
                         "the OFFERING call on the desk").device
    b.line_set_call_privilege(owned, int(MONITOR))        # the watcher owns it too: the desk may step down
    assert_code(LineErr.NOTOWNER, b.line_answer, owned)
    assert_code(LineErr.INVALCALLSTATE, b.line_set_call_privilege, monitored, int(MONITOR))   # sole owner
    assert subject.reply(watcher, b.line_answer(monitored)).result == 0       # the new owner answers
    subject.state(watcher, monitored, int(S.CONNECTED))
    assert subject.reply(watcher, b.line_drop(monitored)).result == 0
    subject.state(watcher, monitored, int(S.IDLE))
    b.line_deallocate_call(monitored)
    b.line_deallocate_call(owned)
    b.line_shutdown(watcher)
    assert_usable(subject)


# ----- unsupported modes, devices, versions -------------------------------------------------------

def test_unsupported_transfer_and_forward_modes(subject: Subject) -> None:
    b, line = subject.backend, subject.line
    assert not subject.line.addr_caps.transfer_modes & LineTransferMode.CONFERENCE     # reference: no conference
    h_call = subject.make_call(PROFILE.pixit.target, int(S.CONNECTED))
    for mode in (int(LineTransferMode.CONFERENCE), 0x7):
        assert_code(LineErr.INVALTRANSFERMODE, b.line_complete_transfer, h_call, h_call, mode)
    subject.drop(h_call)
    unsupported = next(m for m in LineForwardMode if not line.addr_caps.forward_modes & m)  # not in dwForwardModes
    entry = (LineForward(forward_mode=int(unsupported), dest_address="001711234567"),)
    assert_code(LineErr.INVALPARAM, b.line_forward, line.h_line, False, 0, entry, 0)
    assert_usable(subject)


def test_bad_device_ids_and_api_versions(subject: Subject) -> None:
    b, line = subject.backend, subject.line
    app = line.h_line_app
    other, devices, _ = b.line_initialize_ex("count")
    b.line_shutdown(other)
    for device in (devices, devices + 7, 0xFFFF):
        assert_code(LineErr.BADDEVICEID, b.line_open, app, device, line.api_version)
        assert_code(LineErr.BADDEVICEID, b.line_negotiate_api_version, app, device, API_LOW, API_HIGH)
        assert_code(LineErr.BADDEVICEID, b.line_get_dev_caps, app, device, line.api_version)
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_negotiate_api_version, app, line.device_id,
                0x00010000, 0x00010002)                                  # below TAPI 1.3
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_negotiate_api_version, app, line.device_id,
                0x00020002, 0x00020000)                                  # low above high
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_negotiate_api_version, app, line.device_id,
                0x00090000, 0x00090001)
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_open, app, line.device_id, 0x00090000)
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_get_dev_caps, app, line.device_id, 0x00010000)
    assert_code(LineErr.INCOMPATIBLEAPIVERSION, b.line_initialize_ex, "old", 0x00010002)
    assert_usable(subject)


# ----- the emulated DLL only: pointers and sizes ----------------------------------------------------

@pytest.fixture
def dll() -> Iterator[Subject]:
    yield from _tapi32()


def _fn(s: Subject) -> Any:
    backend = s.backend
    assert isinstance(backend, Tapi32Backend)
    return backend.fn            # the adapter's own prototypes, errcheck raising LineError


@pytest.mark.parametrize("call", [
    lambda f, app, line, dev, api: f.lineMakeCallW(line, None, "0301234567", 0, None),
    lambda f, app, line, dev, api: f.lineOpenW(app, dev, None, api, 0, 0, 6, 4, None),
    lambda f, app, line, dev, api: f.lineNegotiateAPIVersion(app, dev, API_LOW, API_HIGH, None, None),
    lambda f, app, line, dev, api: f.lineGetDevCapsW(app, dev, api, 0, None),
    lambda f, app, line, dev, api: f.lineGetAddressStatusW(line, 0, None),
    lambda f, app, line, dev, api: f.lineGetLineDevStatusW(line, None),
    lambda f, app, line, dev, api: f.lineSetupTransferW(BOGUS, None, None),
    lambda f, app, line, dev, api: f.lineGetMessage(app, None, 0),
], ids=["makecall-lphCall", "open-lphLine", "negotiate-lpdwAPIVersion", "devcaps", "addressstatus",
        "linedevstatus", "setuptransfer-lphConsultCall", "getmessage"])
def test_null_out_pointers_are_invalpointer(dll: Subject, call: Callable[..., int]) -> None:
    line = dll.line
    assert_code(LineErr.INVALPOINTER, call, _fn(dll), line.h_line_app, line.h_line, line.device_id,
                line.api_version)
    assert_usable(dll)


@pytest.mark.parametrize("struct_cls", [LINEDEVCAPS, LINEADDRESSSTATUS, LINEDEVSTATUS, LINECALLSTATUS])
def test_total_size_below_the_fixed_part_is_structuretoosmall(dll: Subject, struct_cls: type[Any]) -> None:
    line, f = dll.line, _fn(dll)
    h_call = dll.make_call(PROFILE.pixit.target) if struct_cls is LINECALLSTATUS else 0
    for size in (0, 4, ctypes.sizeof(struct_cls) // 2):
        raw = struct_cls()
        raw.dwTotalSize = size
        if struct_cls is LINEDEVCAPS:
            args: tuple[Any, ...] = (f.lineGetDevCapsW, line.h_line_app, line.device_id, line.api_version, 0)
        elif struct_cls is LINEADDRESSSTATUS:
            args = (f.lineGetAddressStatusW, line.h_line, 0)
        elif struct_cls is LINEDEVSTATUS:
            args = (f.lineGetLineDevStatusW, line.h_line)
        else:
            args = (f.lineGetCallStatus, h_call)
        assert_code(LineErr.STRUCTURETOOSMALL, *args, ctypes.byref(raw))
    if h_call:
        dll.drop(h_call)
    assert_usable(dll)


def test_null_pointer_misuse_leaves_no_kept_buffers(dll: Subject) -> None:
    """A lineMakeCallW refused up front (NULL lphCall) must not keep anything waiting for a reply."""
    line, f = dll.line, _fn(dll)
    emulator = f.source
    before = len(emulator._kept)
    assert_code(LineErr.INVALPOINTER, f.lineMakeCallW, line.h_line, None, "0301234567", 0, None)
    assert len(emulator._kept) == before
    h = DWORD()
    assert f.lineMakeCallW(line.h_line, ctypes.byref(h), None, 0, None) > 0
    assert_usable_after_raw_call(dll, h)


def assert_usable_after_raw_call(s: Subject, h: Any) -> None:
    s.wait(s.line.h_line_app, lambda m: m.msg == LineMsg.REPLY, "the raw lineMakeCallW reply")
    assert h.value
    s.drop(h.value)
    assert_usable(s)
