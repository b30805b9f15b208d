"""The tapi32 double (tapi32:emulated) honours the DLL's C contract (raw exports, ctypes arguments, LONG results)."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.backends.tapi32._codec import build_forward_list, message_from_struct, read_struct
from conformance.backends.tapi32._structs import (
    LINECALLINFO,
    LINECALLPARAMS,
    LINEDEVCAPS,
    LINEEXTENSIONID,
    LINEFORWARDLIST,
    LINEINITIALIZEEXPARAMS,
    LINEMESSAGE,
    fixed_size,
)
from conformance.backends.tapi32_double import INFINITE, Tapi32Double
from simulator._constants import LineCallState, LineErr, LineMsg
from simulator._messages import LineMessage, signed_long
from simulator._profile import load_profile
from simulator._structs import LineCallInfo, LineDevCaps, LineForward

REFERENCE = Path(__file__).resolve().parents[1] / "profiles" / "reference.yaml"
V22 = 0x00020002
DWORD = ctypes.c_uint32
SENTINEL = 0xDEADBEEF


def w(text: str) -> ctypes.Array[ctypes.c_char]:
    """An LPCWSTR as tapi32 reads it on every OS: NUL-terminated UTF-16LE."""
    raw = (text + "\0").encode("utf-16-le")
    return ctypes.create_string_buffer(raw, len(raw))


def err(code: LineErr) -> int:
    return signed_long(code)


@pytest.fixture
def emu() -> Iterator[Tapi32Double]:
    dll = Tapi32Double(load_profile(REFERENCE))
    yield dll
    assert dll.errors == []        # no export ever failed for an internal reason


def init(emu: Tapi32Double, version: int = V22) -> tuple[int, int]:
    h, n, v = DWORD(), DWORD(), DWORD(version)
    params = LINEINITIALIZEEXPARAMS()
    params.dwTotalSize = ctypes.sizeof(params)
    params.dwOptions = 2
    assert emu.lineInitializeExW(ctypes.byref(h), None, None, w("test"), ctypes.byref(n), ctypes.byref(v),
                                 ctypes.byref(params)) == 0
    assert params.Handles.hEvent and params.dwUsedSize == ctypes.sizeof(params)
    return h.value, n.value


def open_desk(emu: Tapi32Double, h_app: int) -> int:
    h_line = DWORD()
    assert emu.lineOpenW(h_app, 0, ctypes.byref(h_line), V22, 0, 0x1234, 6, 4, None) == 0
    return h_line.value


def next_message(emu: Tapi32Double, h_app: int, timeout_ms: int = 2000) -> LineMessage | None:
    raw = LINEMESSAGE()
    rc = emu.lineGetMessage(h_app, ctypes.byref(raw), timeout_ms)
    if rc == err(LineErr.OPERATIONFAILED):
        return None
    assert rc == 0
    return message_from_struct(raw)


def wait_for(emu: Tapi32Double, h_app: int, pred: object, timeout_ms: int = 20000) -> LineMessage:
    assert callable(pred)
    while (m := next_message(emu, h_app, timeout_ms)) is not None:
        if pred(m):
            return m
    raise AssertionError("message never came")


def connected_call(emu: Tapi32Double, h_app: int, h_line: int) -> int:
    h_call = DWORD()
    request = emu.lineMakeCallW(h_line, ctypes.byref(h_call), w("00301234567"), 0, None)
    assert request > 0
    wait_for(emu, h_app, lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == LineCallState.CONNECTED)
    return h_call.value


def test_initialize_returns_app_devices_and_version(emu: Tapi32Double) -> None:
    h_app, devices = init(emu, 0x00030001)
    assert h_app and devices == 5          # two stations + three party lines of the reference profile
    version, ext = DWORD(), LINEEXTENSIONID()
    ext.dwExtensionID0 = 7
    assert emu.lineNegotiateAPIVersion(h_app, 0, 0x00010004, V22, ctypes.byref(version), ctypes.byref(ext)) == 0
    assert version.value == V22 and ext.dwExtensionID0 == 0
    assert emu.lineNegotiateExtVersion(h_app, 0, V22, 1, 2, ctypes.byref(DWORD())) == err(LineErr.OPERATIONUNAVAIL)


def test_get_message_times_out_on_the_virtual_clock(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    before = emu.now()
    assert next_message(emu, h_app, 1500) is None
    assert emu.now() == pytest.approx(before + 1.5)
    assert next_message(emu, h_app, 0) is None and emu.now() == pytest.approx(before + 1.5)


def test_call_handle_is_written_only_when_the_reply_is_generated(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    h_call = DWORD(SENTINEL)
    request = emu.lineMakeCallW(h_line, ctypes.byref(h_call), w("00301234567"), 0, None)
    assert request > 0 and h_call.value == SENTINEL          # nothing written at return
    assert next_message(emu, h_app, 0) is None and h_call.value == SENTINEL   # no time passed yet
    reply = next_message(emu, h_app)
    assert reply is not None and reply.msg == LineMsg.REPLY and reply.request_id == request
    assert reply.result == 0 and h_call.value not in (SENTINEL, 0)
    first = next_message(emu, h_app)
    assert first is not None and first.msg == LineMsg.CALLSTATE and first.device == h_call.value


def test_close_cancels_the_reply_and_the_handle_is_never_written(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    h_call = DWORD(SENTINEL)
    assert emu.lineMakeCallW(h_line, ctypes.byref(h_call), w("00301234567"), 0, None) > 0
    assert emu.lineClose(h_line) == 0
    assert next_message(emu, h_app, 5000) is None and h_call.value == SENTINEL


def test_failed_reply_is_a_negative_long_and_writes_nothing(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    h_call = connected_call(emu, h_app, h_line)
    drop, hold = emu.lineDrop(h_call, None, 0), emu.lineHold(h_call)   # hold finds the call gone
    replies: dict[int, LineMessage] = {}
    while len(replies) < 2:
        m = wait_for(emu, h_app, lambda m: m.msg == LineMsg.REPLY)
        replies[m.request_id] = m
    assert replies[drop].result == 0
    assert replies[hold].result == err(LineErr.INVALCALLSTATE) and replies[hold].error == LineErr.INVALCALLSTATE


def test_dev_caps_grow_and_retry_contract(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    fixed = fixed_size("LINEDEVCAPS", V22)
    small = ctypes.create_string_buffer(fixed)
    DWORD.from_buffer(small).value = 8
    as_caps = ctypes.POINTER(LINEDEVCAPS)
    rc = emu.lineGetDevCapsW(h_app, 0, V22, 0, ctypes.cast(small, as_caps))
    assert rc == err(LineErr.STRUCTURETOOSMALL)
    DWORD.from_buffer(small).value = fixed                  # room for the fixed part only: truncated
    assert emu.lineGetDevCapsW(h_app, 0, V22, 0, ctypes.cast(small, as_caps)) == 0
    header = LINEDEVCAPS.from_buffer_copy(small.raw + bytes(ctypes.sizeof(LINEDEVCAPS) - fixed))
    assert header.dwNeededSize > fixed and header.dwUsedSize == fixed
    assert header.dwLineNameSize == 0 and header.dwLineNameOffset == 0     # never half a string
    big = ctypes.create_string_buffer(header.dwNeededSize)
    DWORD.from_buffer(big).value = header.dwNeededSize
    assert emu.lineGetDevCapsW(h_app, 0, V22, 0, ctypes.cast(big, as_caps)) == 0
    caps = read_struct(LineDevCaps, big.raw, api_version=V22)
    assert caps.line_name.startswith("Station 201") and caps.num_addresses == 1


def test_call_info_strings_round_trip(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    h_call = connected_call(emu, h_app, h_line)
    buf = ctypes.create_string_buffer(2048)
    DWORD.from_buffer(buf).value = 2048
    assert emu.lineGetCallInfoW(h_call, ctypes.cast(buf, ctypes.POINTER(LINECALLINFO))) == 0
    info = read_struct(LineCallInfo, buf.raw, api_version=V22)
    assert info.line == h_line and info.called_id and info.app_name == "test"


@pytest.mark.parametrize("call", [
    lambda e, a, ln: e.lineMakeCallW(ln, None, w("00301234567"), 0, None),
    lambda e, a, ln: e.lineGetMessage(a, None, 0),
    lambda e, a, ln: e.lineOpenW(a, 0, None, V22, 0, 0, 6, 4, None),
    lambda e, a, ln: e.lineForwardW(ln, 0, 0, None, 0, None, None),
    lambda e, a, ln: e.lineGetDevCapsW(a, 0, V22, 0, None),
    lambda e, a, ln: e.lineGetAddressStatusW(ln, 0, None),
    lambda e, a, ln: e.lineGetLineDevStatusW(ln, None),
    lambda e, a, ln: e.lineNegotiateAPIVersion(a, 0, V22, V22, None, None),
    lambda e, a, ln: e.lineSetupTransferW(0x30001, None, None),
    lambda e, a, ln: e.lineDevSpecific(ln, 0, 0, None, 4),
    lambda e, a, ln: e.lineInitializeExW(None, None, None, w("x"), None, None, None),
], ids=["makecall", "getmessage", "open", "forward", "devcaps", "addrstatus", "linedevstatus", "negotiate",
        "setuptransfer", "devspecific", "initialize"])
def test_null_pointers_are_invalpointer(emu: Tapi32Double, call: object) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    assert callable(call)
    assert call(emu, h_app, h_line) == err(LineErr.INVALPOINTER)
    assert_still_usable(emu, h_app, h_line)


def assert_still_usable(emu: Tapi32Double, h_app: int, h_line: int) -> None:
    h_call = DWORD()
    assert emu.lineMakeCallW(h_line, ctypes.byref(h_call), w("00301234567"), 0, None) > 0
    wait_for(emu, h_app, lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == LineCallState.DIALTONE)
    assert h_call.value
    assert emu.lineDrop(h_call.value, None, 0) > 0


def test_wrong_handles_and_states_give_the_real_codes(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    msg = LINEMESSAGE()
    assert emu.lineGetMessage(0x0BAD, ctypes.byref(msg), 0) == err(LineErr.INVALAPPHANDLE)
    assert emu.lineShutdown(0x0BAD) == err(LineErr.INVALAPPHANDLE)
    assert emu.lineMakeCallW(0x0BAD, ctypes.byref(DWORD()), w("1"), 0, None) == err(LineErr.INVALLINEHANDLE)
    assert emu.lineDrop(0x0BAD, None, 0) == err(LineErr.INVALCALLHANDLE)
    assert emu.lineOpenW(h_app, 99, ctypes.byref(DWORD()), V22, 0, 0, 6, 4, None) == err(LineErr.BADDEVICEID)
    h_call = connected_call(emu, h_app, h_line)
    assert emu.lineAnswer(h_call, None, 0) == err(LineErr.INVALCALLSTATE)
    assert emu.lineCompleteTransfer(h_call, h_call, None, 7) == err(LineErr.INVALTRANSFERMODE)
    assert emu.lineDrop(h_call, None, 0) > 0
    wait_for(emu, h_app, lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == LineCallState.IDLE)
    assert emu.lineDeallocateCall(h_call) == 0
    assert_still_usable(emu, h_app, h_line)


def test_bad_sizes_of_input_structures(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    params = LINEINITIALIZEEXPARAMS()
    params.dwTotalSize, params.dwOptions = 8, 2
    assert emu.lineInitializeExW(ctypes.byref(DWORD()), None, None, w("x"), ctypes.byref(DWORD()),
                                 ctypes.byref(DWORD(V22)), ctypes.byref(params)) == err(LineErr.STRUCTURETOOSMALL)
    params.dwTotalSize, params.dwOptions = ctypes.sizeof(params), 1     # hidden window: not emulated
    assert emu.lineInitializeExW(ctypes.byref(DWORD()), None, None, w("x"), ctypes.byref(DWORD()),
                                 ctypes.byref(DWORD(V22)), ctypes.byref(params)) == err(LineErr.INVALPARAM)
    call_params = LINECALLPARAMS()
    call_params.dwTotalSize = 100                                        # below the 2.x fixed part (176)
    assert emu.lineMakeCallW(h_line, ctypes.byref(DWORD()), w("1"), 0, ctypes.byref(call_params)) == \
        err(LineErr.STRUCTURETOOSMALL)
    call_params.dwTotalSize = ctypes.sizeof(call_params)
    call_params.dwCommentSize, call_params.dwCommentOffset = 50, 4000    # item outside the structure
    assert emu.lineMakeCallW(h_line, ctypes.byref(DWORD()), w("1"), 0, ctypes.byref(call_params)) == \
        err(LineErr.INVALCALLPARAMS)
    raw = bytearray(build_forward_list((LineForward(forward_mode=1, dest_address="001711234567"),), V22))
    raw[4:8] = (9).to_bytes(4, "little")                                 # 9 entries do not fit
    block = ctypes.create_string_buffer(bytes(raw), len(raw))
    assert emu.lineForwardW(h_line, 0, 0, ctypes.cast(block, ctypes.POINTER(LINEFORWARDLIST)), 0,
                            ctypes.byref(DWORD()), None) == err(LineErr.INVALPARAM)
    assert_still_usable(emu, h_app, h_line)


def test_forward_writes_zero_consult_handle_and_list_is_stored(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    raw = build_forward_list((LineForward(forward_mode=1, dest_address="001711234567"),), V22)
    block = ctypes.create_string_buffer(raw, len(raw))
    consult = DWORD(SENTINEL)
    request = emu.lineForwardW(h_line, 0, 0, ctypes.cast(block, ctypes.POINTER(LINEFORWARDLIST)), 0,
                               ctypes.byref(consult), None)
    assert request > 0 and consult.value == SENTINEL
    wait_for(emu, h_app, lambda m: m.msg == LineMsg.REPLY and m.request_id == request)
    assert consult.value == 0                   # TAPI writes 0 when no consultation call was made


def test_infinite_wait_returns_invalapphandle_after_shutdown(emu: Tapi32Double) -> None:
    import threading

    h_app, _ = init(emu)
    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(
        emu.lineGetMessage(h_app, ctypes.byref(LINEMESSAGE()), INFINITE)))
    thread.start()
    emu.pump_started(h_app)
    assert emu.run_until(lambda: False, 1.0) is False     # the waiter is inside: time may pass
    assert emu.lineShutdown(h_app) == 0
    thread.join(5)
    assert results == [err(LineErr.INVALAPPHANDLE)]


def test_structuretoosmall_still_says_what_is_needed(emu: Tapi32Double) -> None:
    """Below the fixed part: LINEERR_STRUCTURETOOSMALL, dwNeededSize set, nothing else touched."""
    h_app, _ = init(emu)
    small = ctypes.create_string_buffer(64)
    ctypes.memset(ctypes.addressof(small) + 8, 0xAB, 56)
    DWORD.from_buffer(small).value = 64
    rc = emu.lineGetDevCapsW(h_app, 0, V22, 0, ctypes.cast(small, ctypes.POINTER(LINEDEVCAPS)))
    assert rc == err(LineErr.STRUCTURETOOSMALL)
    assert DWORD.from_buffer(small, 4).value > fixed_size("LINEDEVCAPS", V22)
    assert small.raw[8:] == b"\xab" * 56


def test_strings_are_read_and_written_as_utf16(emu: Tapi32Double) -> None:
    """The app name arrives from UTF-16LE memory (a surrogate pair included) and comes back in LINECALLINFO."""
    h, n, v = DWORD(), DWORD(), DWORD(V22)
    params = LINEINITIALIZEEXPARAMS()
    params.dwTotalSize = ctypes.sizeof(params)
    params.dwOptions = 2
    name = "Größe ☎ \U0001F4DE"
    assert emu.lineInitializeExW(ctypes.byref(h), None, None, w(name), ctypes.byref(n), ctypes.byref(v),
                                 ctypes.byref(params)) == 0
    h_line = open_desk(emu, h.value)
    h_call = connected_call(emu, h.value, h_line)
    buf = ctypes.create_string_buffer(4096)
    DWORD.from_buffer(buf).value = 4096
    assert emu.lineGetCallInfoW(h_call, ctypes.cast(buf, ctypes.POINTER(LINECALLINFO))) == 0
    info = LINECALLINFO.from_buffer_copy(buf.raw[:ctypes.sizeof(LINECALLINFO)])
    raw = buf.raw[info.dwAppNameOffset:info.dwAppNameOffset + info.dwAppNameSize]
    assert raw == (name + "\0").encode("utf-16-le") and info.dwAppNameOffset % 4 == 0
    # a string that is not UTF-16 (a lone low surrogate) is refused, not mangled
    bad = ctypes.create_string_buffer(b"\x00\xdc\x00\x00", 4)
    assert emu.lineDialW(h_call, bad, 0) == err(LineErr.INVALPOINTER)


def test_line_message_params_are_zero_extended_dwords(emu: Tapi32Double) -> None:
    h_app, _ = init(emu)
    h_line = open_desk(emu, h_app)
    emu.inject(h_app, LineMsg.REPLY, 0, 7, signed_long(LineErr.INVALCALLSTATE) & 0xFFFFFFFF, 0)
    raw = LINEMESSAGE()
    ctypes.memset(ctypes.byref(raw), 0xFF, ctypes.sizeof(raw))
    assert emu.lineGetMessage(h_app, ctypes.byref(raw), 0) == 0
    assert raw.dwMessageID == LineMsg.REPLY and raw.dwParam1 == 7
    assert raw.dwParam2 == LineErr.INVALCALLSTATE          # a DWORD, not sign-extended to 64 bits
    assert raw.dwParam3 == 0 and h_line
