"""An emulated tapi32.dll: the DLL's C function table, backed by the simulator's provider.

``EmulatedTapi32(profile)`` exposes every export of ``_dll.PROTOTYPES`` under its real name as a C
function pointer with the header prototype (a ctypes callback), so callers pass what they would pass to
the DLL (``byref(hLine)``, ``c_wchar_p``, structure pointers whose ``dwTotalSize`` is set) and get back
the ``LONG`` the DLL returns: 0, a positive request id, or a negative ``LINEERR`` as int32.

The DLL's contract, as the adapter depends on it (tapi-reference §0, §2, §3, §6):

* output structures honour ``dwTotalSize``: ``LINEERR_STRUCTURETOOSMALL`` below the fixed part of the
  negotiated version, truncation with ``dwNeededSize > dwTotalSize`` above it (``_codec.write_struct``);
* ``*lphCall`` / ``*lphConsultCall`` / ``*lphConfCall`` and lineDevSpecific's ``lpParams`` are written
  when the LINE_REPLY is generated, never before, and never after a failed reply; lineClose/lineShutdown
  cancel pending requests, after which nothing is written;
* lineGetMessage fills a LINEMESSAGE and returns ``LINEERR_OPERATIONFAILED`` when its timeout expires;
* NULL where a pointer is required is ``LINEERR_INVALPOINTER``; malformed input structures give the
  LINEERR the function documents (STRUCTURETOOSMALL, INVALCALLPARAMS, INVALPARAM).

Time is the simulator's virtual clock. It moves only while someone waits: a lineGetMessage with a finite
timeout, or ``run_until`` (the stand-in for "wall-clock time passes" that the adapter uses instead of
sleeping). A lineGetMessage with ``INFINITE`` is a message-thread wait: it never moves time itself, and
while any such thread is registered (``pump_started``) time moves only when that thread has drained its
queue and is back inside lineGetMessage, so a threaded adapter sees a deterministic event order.
Only USEEVENT mode is emulated (no hidden window, no completion port).
"""

from __future__ import annotations

import ctypes
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from conformance.backends.tapi32._codec import (
    message_to_struct,
    parse_call_params,
    parse_forward_list,
    write_struct,
)
from conformance.backends.tapi32._dll import FUNCTION_NAMES, function_type
from conformance.backends.tapi32._structs import LINEINITIALIZEEXPARAMS, LINEMESSAGE, fixed_size
from simulator._clock import Clock, VirtualClock
from simulator._constants import (
    LineCallPrivilege,
    LineCallState,
    LineErr,
    LineInitializeExOption,
    LineMsg,
    LineTransferMode,
)
from simulator._errors import LineError
from simulator._messages import signed_long
from simulator._profile_model import Profile
from simulator._provider import Provider
from simulator._provider_core import App
from simulator._structs import LineCallParams, LineForward

__all__ = ["INFINITE", "EmulatedTapi32"]

INFINITE: Final = 0xFFFFFFFF
SETTLE_SECONDS: Final = 10.0          # real seconds a message thread may take to handle one message
_FAKE_EVENT: Final = 0xE7E7_0000      # hEvent handed out; no kernel object exists behind it
DWORD = ctypes.c_uint32


def _address(pointer: Any) -> int:
    """The address a pointer argument carries (0 for NULL)."""
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _input_struct(pointer: Any, version: int | None, struct: str, function: str) -> bytes | None:
    """The bytes of a caller's input structure (dwTotalSize first); None for a NULL pointer.

    Below the fixed part of the negotiated version it is LINEERR_STRUCTURETOOSMALL, as in the DLL.
    """
    address = _address(pointer)
    if not address or version is None:
        return None
    total = DWORD.from_address(address).value
    if total < fixed_size(struct, version):
        raise LineError(LineErr.STRUCTURETOOSMALL, function, f"{struct} dwTotalSize {total}")
    return ctypes.string_at(address, total)


def _required(pointer: Any, function: str, what: str) -> int:
    address = _address(pointer)
    if not address:
        raise LineError(LineErr.INVALPOINTER, function, f"{what} is NULL")
    return address


def _put(address: int, value: int) -> None:
    DWORD.from_address(address).value = value & 0xFFFFFFFF


@dataclass
class _Kept:
    """Where a pending request's LINE_REPLY writes: an LPHCALL and/or a lineDevSpecific buffer."""

    app: int
    handle_at: int = 0
    data_at: int = 0
    data_size: int = 0


class _Provider(Provider):
    """The simulator provider with one hook (every posted message goes through the emulator) and the
    functions the simulator itself has no use for: lineAccept, lineSetCallPrivilege."""

    def __init__(self, profile: Profile, clock: Clock, emulator: EmulatedTapi32) -> None:
        super().__init__(profile, clock)
        self._emulator = emulator

    def post(self, app: App, msg: LineMsg, device: int, p1: int = 0, p2: int = 0, p3: int = 0, *,
             instance: int = 0, new_call: int = 0, data: bytes = b"") -> None:
        if msg == LineMsg.REPLY and app.handle in self.apps:
            self._emulator.reply_generated(app.handle, p1, signed_long(p2), new_call, data)
        super().post(app, msg, device, p1, p2, p3, instance=instance, new_call=new_call, data=data)

    def line_accept(self, h_call: int) -> int:
        """lineAccept: an owner of an OFFERING call claims it; the reply is all the simulator shows."""
        h = self._owned(h_call, "lineAccept")
        call = h.call
        return self.request(h.line, h.line.app, "lineAccept",
                            self._state_work(call, (LineCallState.OFFERING, LineCallState.ACCEPTED), lambda: None))

    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        """lineSetCallPrivilege (sync): OWNER or MONITOR for this application's handle."""
        h = self.handle(h_call, "lineSetCallPrivilege")
        if privilege not in (LineCallPrivilege.OWNER, LineCallPrivilege.MONITOR):
            raise LineError(LineErr.INVALCALLPRIVILEGE, "lineSetCallPrivilege", f"0x{privilege:08X}")
        h.call.handles[h_call] = int(privilege)


class EmulatedTapi32:
    """tapi32.dll's line function table over a simulated PBX (see the module docstring)."""

    PUMP_TIMEOUT_MS: Final = INFINITE     # what a message thread should pass to lineGetMessage

    def __init__(self, profile: Profile, clock: Clock | None = None) -> None:
        self._cond = threading.Condition(threading.RLock())
        self.provider = _Provider(profile, clock or VirtualClock(), self)
        self.clock = self.provider.clock
        self._kept: dict[int, _Kept] = {}
        self._waiting: dict[int, int] = {}     # hLineApp -> threads inside an INFINITE lineGetMessage
        self._pumped: set[int] = set()
        self.errors: list[str] = []            # internal faults (a bug here, never a TAPI result)
        self.calls: Counter[str] = Counter()   # export name -> times called (for tests and reports)
        self.sequence: list[tuple[str, int]] = []   # (export, first argument) in call order (for tests)
        self.dialled: list[str] = []          # every lpszDestAddress lineMakeCallW received
        self.made_with: list[LineCallParams | None] = []   # and its LINECALLPARAMS, parsed
        # What lineTranslateAddressW makes of a canonical address (the "location" of this machine); an
        # address not listed becomes its canonical digits with "+", which is what the simulated network
        # routes from a party line. ``refuse_privilege``: a LINEERR lineSetCallPrivilege returns (tests).
        self.translations: dict[str, str] = {}
        self.refuse_privilege = 0
        self._exports: dict[str, Any] = {}
        for name in FUNCTION_NAMES:
            export = function_type(name)(self._guarded(name, getattr(self, f"_{name}")))
            self._exports[name] = export

    def __getattr__(self, name: str) -> Any:
        exports = self.__dict__.get("_exports", {})
        if name in exports:
            return exports[name]
        raise AttributeError(name)

    def _guarded(self, name: str, impl: Callable[..., int]) -> Callable[..., int]:
        """One export: serialised, LineError -> negative LONG, anything else recorded (never 0)."""

        def export(*args: Any) -> int:
            with self._cond:
                self.calls[name] += 1
                self.sequence.append((name, args[0] if args and isinstance(args[0], int) else 0))
                try:
                    result = impl(*args)
                except LineError as exc:
                    result = signed_long(exc.code)
                except Exception as exc:
                    self.errors.append(f"{name}: {exc!r}")
                    result = signed_long(LineErr.OPERATIONFAILED)
                self._cond.notify_all()
                return result

        return export

    def describe(self) -> dict[str, Any]:
        return {"dll": "emulated tapi32.dll (simulator)", "profile": self.provider.profile.name,
                "vendor": self.provider.profile.vendor}

    # ----- time (the emulator's stand-in for wall-clock time; not a tapi32 export) --------------
    def now(self) -> float:
        return self.clock.now()

    def pump_started(self, h_line_app: int) -> None:
        """A message thread serves ``h_line_app``: time waits for it to drain its queue."""
        with self._cond:
            if h_line_app in self.provider.apps:
                self._pumped.add(h_line_app)

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Let up to ``timeout`` virtual seconds pass until ``done()``; returns ``done()``."""
        with self._cond:
            deadline = self.clock.now() + max(0.0, timeout)
            self.clock.run_due()
            self._settle()
            while not done():
                if not self.clock.step(deadline):
                    self.clock.advance(max(0.0, deadline - self.clock.now()))
                    self._settle()
                    return done()
                self._settle()
            return True

    def _quiet(self) -> bool:
        for h in self._pumped:
            app = self.provider.apps.get(h)
            if app is not None and (app.queue or not self._waiting.get(h)):
                return False
        return True

    def _settle(self) -> None:
        self._cond.notify_all()
        if not self._cond.wait_for(self._quiet, SETTLE_SECONDS):
            stuck = sorted(h for h in self._pumped if h in self.provider.apps)
            self.errors.append(f"message thread of 0x{stuck[0] if stuck else 0:08X} did not come back")
            self._pumped.difference_update(stuck)

    def inject(self, h_line_app: int, msg: LineMsg, device: int, p1: int = 0, p2: int = 0, p3: int = 0) -> None:
        """Queue a message the provider would send on its own (LINE_CREATE, LINE_REMOVE, LINE_CLOSE, ...)."""
        with self._cond:
            self.provider.post(self.provider.app(h_line_app, "inject"), msg, device, p1, p2, p3)
            self._cond.notify_all()

    # ----- request buffers --------------------------------------------------------------------
    def reply_generated(self, h_line_app: int, request: int, result: int, new_call: int, data: bytes) -> None:
        kept = self._kept.get(request)
        if kept is None or kept.app != h_line_app:
            return                              # another application's request of the same id
        del self._kept[request]
        if result != 0:
            return                              # a failed request never makes its handle valid
        if kept.handle_at:
            _put(kept.handle_at, new_call)
        if kept.data_at and data:
            ctypes.memmove(kept.data_at, data, min(len(data), kept.data_size))

    def _keep(self, request: int, app: int, **where: int) -> int:
        self._kept[request] = _Kept(app, **where)
        return request

    def _forget_cancelled(self) -> None:
        live: set[int] = set()
        for app in self.provider.apps.values():
            live |= app.pending
        for request in [r for r in self._kept if r not in live]:
            del self._kept[request]

    def _line_version(self, h_line: int) -> int | None:
        line = self.provider.lines.get(h_line)
        return line.api_version if line is not None else None

    def _call_version(self, h_call: int) -> int | None:
        handle = self.provider.handles.get(h_call)
        return handle.line.api_version if handle is not None else None

    def _app_of_line(self, h_line: int) -> int:
        line = self.provider.lines.get(h_line)
        return line.app.handle if line is not None else 0

    def _app_of_call(self, h_call: int) -> int:
        handle = self.provider.handles.get(h_call)
        return handle.line.app.handle if handle is not None else 0

    # ----- input structures -------------------------------------------------------------------
    @staticmethod
    def _call_params(pointer: Any, version: int | None, function: str) -> LineCallParams | None:
        raw = _input_struct(pointer, version, "LINECALLPARAMS", function)
        if raw is None or version is None:
            return None
        try:
            return parse_call_params(raw, api_version=version)
        except ValueError as exc:
            raise LineError(LineErr.INVALCALLPARAMS, function, str(exc)) from exc

    @staticmethod
    def _forward_list(pointer: Any, version: int | None, function: str) -> tuple[LineForward, ...] | None:
        raw = _input_struct(pointer, version, "LINEFORWARDLIST", function)
        if raw is None or version is None:
            return None
        try:
            return parse_forward_list(raw, version)
        except ValueError as exc:
            raise LineError(LineErr.INVALPARAM, function, str(exc)) from exc

    @staticmethod
    def _fill(pointer: Any, value: Any, version: int, function: str) -> int:
        address = _required(pointer, function, "the structure pointer")
        total = DWORD.from_address(address).value
        if write_struct(value, address, total, version):
            raise LineError(LineErr.STRUCTURETOOSMALL, function, f"dwTotalSize {total} < the fixed part")
        return 0

    # ----- initialization, devices, lines -----------------------------------------------------
    def _lineInitializeExW(self, lph_app: Any, h_instance: int | None, callback: int | None,
                           app_name: str | None, lpdw_num_devs: Any, lpdw_version: Any, params: Any) -> int:
        fn = "lineInitializeEx"
        for pointer, what in ((lph_app, "lphLineApp"), (lpdw_num_devs, "lpdwNumDevs"),
                              (lpdw_version, "lpdwAPIVersion"), (params, "lpLineInitializeExParams")):
            _required(pointer, fn, what)
        block = params.contents
        if block.dwTotalSize < ctypes.sizeof(LINEINITIALIZEEXPARAMS):
            raise LineError(LineErr.STRUCTURETOOSMALL, fn, f"dwTotalSize {block.dwTotalSize}")
        if block.dwOptions & 0x7FFFFFFF != LineInitializeExOption.USEEVENT:
            raise LineError(LineErr.INVALPARAM, fn, "the emulated DLL implements only USEEVENT")
        h_app, num_devs, version = self.provider.line_initialize_ex(app_name or "python", lpdw_version[0])
        lph_app[0], lpdw_num_devs[0], lpdw_version[0] = h_app, num_devs, version
        block.dwNeededSize = block.dwUsedSize = ctypes.sizeof(LINEINITIALIZEEXPARAMS)
        block.Handles.hEvent = _FAKE_EVENT + (h_app & 0xFFFF)
        return 0

    def _lineShutdown(self, h_app: int) -> int:
        self.provider.line_shutdown(h_app)
        self._pumped.discard(h_app)
        self._forget_cancelled()
        return 0

    def _lineNegotiateAPIVersion(self, h_app: int, device: int, low: int, high: int, lpdw_version: Any,
                                 lp_ext_id: Any) -> int:
        fn = "lineNegotiateAPIVersion"
        _required(lpdw_version, fn, "lpdwAPIVersion")
        ext_at = _required(lp_ext_id, fn, "lpExtensionID")
        lpdw_version[0] = self.provider.line_negotiate_api_version(h_app, device, low, high)
        ctypes.memset(ext_at, 0, 16)      # no provider extension id
        return 0

    def _lineNegotiateExtVersion(self, h_app: int, device: int, api: int, low: int, high: int,
                                 lpdw_ext: Any) -> int:
        _required(lpdw_ext, "lineNegotiateExtVersion", "lpdwExtVersion")
        lpdw_ext[0] = self.provider.line_negotiate_ext_version(h_app, device, api, low, high)
        return 0

    def _lineGetDevCapsW(self, h_app: int, device: int, api: int, ext: int, caps: Any) -> int:
        _required(caps, "lineGetDevCaps", "lpLineDevCaps")
        value = self.provider.line_get_dev_caps(h_app, device, api, ext)
        return self._fill(caps, value, api, "lineGetDevCaps")

    def _lineGetAddressCapsW(self, h_app: int, device: int, address: int, api: int, ext: int,
                             caps: Any) -> int:
        _required(caps, "lineGetAddressCaps", "lpAddressCaps")
        value = self.provider.line_get_address_caps(h_app, device, address, api, ext)
        return self._fill(caps, value, api, "lineGetAddressCaps")

    def _lineOpenW(self, h_app: int, device: int, lph_line: Any, api: int, ext: int, instance: int,
                   privileges: int, media_modes: int, call_params: Any) -> int:
        _required(lph_line, "lineOpen", "lphLine")
        lph_line[0] = self.provider.line_open(h_app, device, api, ext, instance, privileges, media_modes)
        return 0

    def _lineClose(self, h_line: int) -> int:
        self.provider.line_close(h_line)
        self._forget_cancelled()
        return 0

    def _lineSetStatusMessages(self, h_line: int, line_states: int, address_states: int) -> int:
        self.provider.line_set_status_messages(h_line, line_states, address_states)
        return 0

    def _lineGetMessage(self, h_app: int, message: Any, timeout_ms: int) -> int:
        fn = "lineGetMessage"
        address = _required(message, fn, "lpMessage")
        app = self.provider.app(h_app, fn)
        gone: Callable[[], bool] = lambda: h_app not in self.provider.apps  # noqa: E731
        if not app.queue and timeout_ms == INFINITE:
            self._waiting[h_app] = self._waiting.get(h_app, 0) + 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: bool(app.queue) or gone())
            finally:
                self._waiting[h_app] -= 1
        elif not app.queue and timeout_ms:
            self.run_until(lambda: bool(app.queue) or gone(), timeout_ms / 1000.0)
        if gone():
            raise LineError(LineErr.INVALAPPHANDLE, fn, "lineShutdown while waiting")
        if not app.queue:
            raise LineError(LineErr.OPERATIONFAILED, fn, "timeout")
        raw = bytes(message_to_struct(app.queue.popleft()))
        ctypes.memmove(address, raw, ctypes.sizeof(LINEMESSAGE))
        return 0

    # ----- queries ----------------------------------------------------------------------------
    def _lineGetAddressStatusW(self, h_line: int, address: int, status: Any) -> int:
        _required(status, "lineGetAddressStatus", "lpAddressStatus")
        value = self.provider.line_get_address_status(h_line, address)
        return self._fill(status, value, self._line_version(h_line) or 0, "lineGetAddressStatus")

    def _lineGetCallInfoW(self, h_call: int, info: Any) -> int:
        _required(info, "lineGetCallInfo", "lpCallInfo")
        value = self.provider.line_get_call_info(h_call)
        return self._fill(info, value, self._call_version(h_call) or 0, "lineGetCallInfo")

    def _lineGetCallStatus(self, h_call: int, status: Any) -> int:
        _required(status, "lineGetCallStatus", "lpCallStatus")
        value = self.provider.line_get_call_status(h_call)
        return self._fill(status, value, self._call_version(h_call) or 0, "lineGetCallStatus")

    def _lineDeallocateCall(self, h_call: int) -> int:
        self.provider.line_deallocate_call(h_call)
        return 0

    # ----- call control (async) ---------------------------------------------------------------
    def _lineMakeCallW(self, h_line: int, lph_call: Any, dest: str | None, country: int, params: Any) -> int:
        fn = "lineMakeCall"
        at = _required(lph_call, fn, "lphCall")
        call_params = self._call_params(params, self._line_version(h_line), fn)
        self.dialled.append(dest or "")
        self.made_with.append(call_params)
        request = self.provider.line_make_call(h_line, dest, country, call_params)
        return self._keep(request, self._app_of_line(h_line), handle_at=at)

    def _lineDialW(self, h_call: int, dest: str | None, country: int) -> int:
        _required(dest, "lineDial", "lpszDestAddress")
        return self.provider.line_dial(h_call, dest or "", country)

    @staticmethod
    def _uui(data: bytes | None, size: int, function: str) -> None:
        if size and data is None:
            raise LineError(LineErr.INVALPOINTER, function, "lpsUserUserInfo is NULL with dwSize > 0")

    def _lineAnswer(self, h_call: int, uui: bytes | None, size: int) -> int:
        self._uui(uui, size, "lineAnswer")
        return self.provider.line_answer(h_call)

    def _lineAccept(self, h_call: int, uui: bytes | None, size: int) -> int:
        self._uui(uui, size, "lineAccept")
        return self.provider.line_accept(h_call)

    def _lineSetCallPrivilege(self, h_call: int, privilege: int) -> int:
        if self.refuse_privilege:
            raise LineError(self.refuse_privilege, "lineSetCallPrivilege", "refused (test)")
        self.provider.line_set_call_privilege(h_call, privilege)
        return 0

    def _lineTranslateAddressW(self, h_app: int, device: int, api: int, address: str | None, card: int,
                               options: int, output: Any) -> int:
        fn = "lineTranslateAddress"
        at = _required(output, fn, "lpTranslateOutput")
        self.provider.app(h_app, fn)
        self.provider.device_for(device, fn)
        if not address:
            raise LineError(LineErr.INVALADDRESS, fn, "empty lpszAddressIn")
        digits = "".join(ch for ch in address if ch.isdigit())
        dialable = self.translations.get(address) or (("+" if address.startswith("+") else "") + digits)
        strings = [(dialable + "\0").encode("utf-16-le"), (address + "\0").encode("utf-16-le")]
        fixed = fixed_size("LINETRANSLATEOUTPUT", api)
        needed = fixed + sum(len(x) for x in strings)
        total = DWORD.from_address(at).value
        if total < fixed:
            raise LineError(LineErr.STRUCTURETOOSMALL, fn, f"dwTotalSize {total}")
        head = [total, needed, fixed, 0, 0, 0, 0, 49, 49, 0]
        if needed <= total:
            offset = fixed
            for index, data in enumerate(strings):
                head[3 + 2 * index], head[4 + 2 * index] = len(data), offset
                ctypes.memmove(at + offset, data, len(data))
                offset += len(data)
            head[2] = needed
        ctypes.memmove(at, b"".join(v.to_bytes(4, "little") for v in head), fixed)
        return 0

    def _lineDrop(self, h_call: int, uui: bytes | None, size: int) -> int:
        self._uui(uui, size, "lineDrop")
        return self.provider.line_drop(h_call)

    def _lineHold(self, h_call: int) -> int:
        return self.provider.line_hold(h_call)

    def _lineUnhold(self, h_call: int) -> int:
        return self.provider.line_unhold(h_call)

    def _lineSwapHold(self, h_active: int, h_held: int) -> int:
        return self.provider.line_swap_hold(h_active, h_held)

    def _lineBlindTransferW(self, h_call: int, dest: str | None, country: int) -> int:
        _required(dest, "lineBlindTransfer", "lpszDestAddress")
        return self.provider.line_blind_transfer(h_call, dest or "", country)

    def _lineSetupTransferW(self, h_call: int, lph_consult: Any, params: Any) -> int:
        fn = "lineSetupTransfer"
        at = _required(lph_consult, fn, "lphConsultCall")
        call_params = self._call_params(params, self._call_version(h_call), fn)
        request = self.provider.line_setup_transfer(h_call, call_params)
        return self._keep(request, self._app_of_call(h_call), handle_at=at)

    def _lineCompleteTransfer(self, h_call: int, h_consult: int, lph_conf: Any, mode: int) -> int:
        fn = "lineCompleteTransfer"
        at = _address(lph_conf)
        if mode == LineTransferMode.CONFERENCE and not at:
            raise LineError(LineErr.INVALPOINTER, fn, "lphConfCall is NULL in conference mode")
        request = self.provider.line_complete_transfer(h_call, h_consult, mode)
        if mode == LineTransferMode.CONFERENCE:
            self._keep(request, self._app_of_call(h_call), handle_at=at)
        return request

    def _lineRedirectW(self, h_call: int, dest: str | None, country: int) -> int:
        _required(dest, "lineRedirect", "lpszDestAddress")
        return self.provider.line_redirect(h_call, dest or "", country)

    def _lineForwardW(self, h_line: int, all_addresses: int, address: int, forward_list: Any, rings: int,
                      lph_consult: Any, params: Any) -> int:
        fn = "lineForward"
        at = _required(lph_consult, fn, "lphConsultCall")   # required even when no consult call is made
        version = self._line_version(h_line)
        entries = self._forward_list(forward_list, version, fn)
        self._call_params(params, version, fn)
        request = self.provider.line_forward(h_line, bool(all_addresses), address, entries, rings)
        return self._keep(request, self._app_of_line(h_line), handle_at=at)

    def _lineDevSpecific(self, h_line: int, address: int, h_call: int, params: int | None, size: int) -> int:
        fn = "lineDevSpecific"
        at = _address(params)
        if size and not at:
            raise LineError(LineErr.INVALPOINTER, fn, "lpParams is NULL with dwSize > 0")
        data = ctypes.string_at(at, size) if size else b""
        request = self.provider.line_dev_specific(h_line, address, h_call, data)
        return self._keep(request, self._app_of_line(h_line), data_at=at, data_size=size)
