"""``Tapi32Double``: tapi32.dll's C exports over the simulator's provider, written apart from the adapter.

Each export (``_exports.EXPORTS``) is a C callback with the header's argument widths; the adapter binds
it through its own prototype table exactly as it binds the real DLL. The double reads every argument
from memory itself: strings as NUL-terminated UTF-16LE, structures at the offsets compiled from
``tapi.h`` (``_layout``), and answers the way tapi32.dll does (docs/tapi.md §0, §2, §3, §6):

* 0, a positive request id, or a negative LINEERR as a ``LONG``; NULL where a pointer is required is
  LINEERR_INVALPOINTER;
* output structures honour ``dwTotalSize`` (``_wire.write_output``); input structures are checked;
* ``*lphCall`` & co. and lineDevSpecific's buffer are written when the LINE_REPLY is generated, never
  before and never after a failed or cancelled request;
* lineGetMessage fills a LINEMESSAGE, or fails with LINEERR_OPERATIONFAILED when its timeout expires.

Time, ``clock="virtual"`` (default): the simulator's virtual clock, moved only by a lineGetMessage with
a finite timeout or by ``run_until``, which the adapter finds on its function table's source and uses
instead of sleeping. A lineGetMessage with INFINITE is a message thread: while one is registered
(``pump_started``) time moves only once it has drained its queue, so runs are deterministic.

Time, ``clock="wall"``: the simulator follows real time and the double offers no ``run_until``; the
adapter then runs its real-DLL code path (message pump with a finite timeout, waits on the wall clock).

``pbx="realistic"`` puts a ``_realistic.RealTsp`` between the exports and the provider, which makes the
double behave like a vendor TSP instead of the simulator's tidy one.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from conformance.backends.tapi32_double._exports import EXPORTS, callback_type
from conformance.backends.tapi32_double._layout import peek, poke, read_bytes, write_bytes
from conformance.backends.tapi32_double._wire import (
    initialize_ex_params,
    read_call_params,
    read_forward_list,
    read_utf16,
    write_message,
    write_output,
    write_translate_output,
    zero_extension_id,
)
from simulator._callstates import CallTrigger
from simulator._clock import Clock, VirtualClock, WallClock
from simulator._constants import (
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

__all__ = ["INFINITE", "Tapi32Double"]

INFINITE: Final = 0xFFFFFFFF
SETTLE_SECONDS: Final = 10.0          # real seconds a message thread may take to handle one message
WALL_POLL_SECONDS: Final = 0.05       # how often a wall-clock lineGetMessage fires due timers
_EVENT_BASE: Final = 0xE7E7_0000      # hEvent handed out; no kernel object exists behind it


def _need(address: int | None, function: str, what: str) -> int:
    if not address:
        raise LineError(LineErr.INVALPOINTER, function, f"{what} is NULL")
    return address


def _text(address: int | None, function: str, what: str) -> str:
    try:
        return read_utf16(_need(address, function, what))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LineError(LineErr.INVALPOINTER, function, f"{what}: not a UTF-16 string ({exc})") from exc


@dataclass
class _Kept:
    """Where a pending request's LINE_REPLY writes: an LPHCALL and/or a lineDevSpecific buffer."""

    app: int
    app_request: int = 0                  # the id the application was given, when not the provider's
    handle_at: int = 0
    data_at: int = 0
    data_size: int = 0


def _nothing() -> None:
    """The callback of a wake-up timer: the wake-up itself is the point."""


class _Provider(Provider):
    """The simulator's provider; every LINE_REPLY it generates first writes the request's buffers. It
    adds lineAccept, which the simulator's own API has no use for."""

    def __init__(self, profile: Profile, clock: Clock, double: Tapi32Double) -> None:
        super().__init__(profile, clock)
        self._double = double

    def post(self, app: App, msg: LineMsg, device: int, p1: int = 0, p2: int = 0, p3: int = 0, *,
             instance: int = 0, new_call: int = 0, data: bytes = b"") -> None:
        if msg == LineMsg.REPLY and app.handle in self.apps:
            p1 = self._double.reply_generated(app.handle, p1, signed_long(p2), new_call, data)
        super().post(app, msg, device, p1, p2, p3, instance=instance, new_call=new_call, data=data)
        self._double.posted(app, msg, device, p1)

    def line_accept(self, h_call: int) -> int:
        """lineAccept: an owner of an OFFERING call claims it, and the call goes ACCEPTED (an ACCEPTED one
        stays so); async. https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-lineaccept"""
        h = self._owned(h_call, "lineAccept")
        call = h.call

        def accept() -> None:
            if call.state == LineCallState.OFFERING:
                self.pbx.fire(call, CallTrigger.ACCEPT)
        return self.request(h.line, h.line.app, "lineAccept",
                            self._state_work(call, (LineCallState.OFFERING, LineCallState.ACCEPTED), accept))


class Tapi32Double:
    """tapi32.dll's line exports over a simulated PBX (see the module docstring)."""

    def __init__(self, profile: Profile, *, clock: str = "virtual", pbx: str = "simulator") -> None:
        if clock not in ("virtual", "wall"):
            raise ValueError(f"clock={clock!r}: use 'virtual' or 'wall'")
        if pbx not in ("simulator", "realistic"):
            raise ValueError(f"pbx={pbx!r}: use 'simulator' or 'realistic'")
        self.wall = clock == "wall"
        self._cond = threading.Condition(threading.RLock())
        self.provider = _Provider(profile, WallClock() if self.wall else VirtualClock(), self)
        self.clock = self.provider.clock
        self.api: Any = self.provider
        self.run_profile = profile             # the profile a run through this double should use
        self.pbx = pbx
        self._kept: dict[int, _Kept] = {}
        self._waiting: dict[int, int] = {}     # hLineApp -> threads inside an INFINITE lineGetMessage
        self._pumped: set[int] = set()
        self.errors: list[str] = []            # internal faults (a bug here, never a TAPI result)
        self.calls: Counter[str] = Counter()   # export name -> times called
        # What tests look at and set: the exports in call order with their first argument, every
        # lpszDestAddress of lineMakeCallW and its LINECALLPARAMS, what lineTranslateAddressW makes of an
        # address (unlisted: "+" and its digits, which the simulated network routes), and a LINEERR that
        # lineSetCallPrivilege returns instead of granting.
        self.sequence: list[tuple[str, int]] = []
        self.dialled: list[str] = []
        self.made_with: list[LineCallParams | None] = []
        self.translations: dict[str, str] = {}
        self.refuse_privilege = 0
        self._per_app_ids = pbx == "realistic"   # a real tapisrv numbers requests per application
        self._app_requests: dict[int, int] = {}  # hLineApp -> last request id handed out
        if pbx == "realistic":
            from conformance.backends.tapi32_double._realistic import RealTsp, run_profile

            self.api = RealTsp(self.provider)
            self.run_profile = run_profile(profile)
        self._exports = {name: callback_type(name)(self._guarded(name, getattr(self, f"_{name}")))
                         for name in EXPORTS}
        if self.wall:                          # the adapter must take its real-DLL path: no virtual time
            self.PUMP_TIMEOUT_MS = 250

    def __getattr__(self, name: str) -> Any:
        exports = self.__dict__.get("_exports", {})
        if name in exports:
            return exports[name]
        if name in ("run_until", "now", "pump_started") and not self.__dict__.get("wall", True):
            return getattr(self, f"_virtual_{name}")
        raise AttributeError(name)

    def _guarded(self, name: str, impl: Callable[..., int]) -> Callable[..., int]:
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
        return {"dll": f"tapi32 double ({self.pbx} PBX, {'wall' if self.wall else 'virtual'} clock)",
                "profile": self.provider.profile.name, "vendor": self.provider.profile.vendor}

    # ----- virtual time (not a tapi32 export; offered only with the virtual clock) ---------------
    PUMP_TIMEOUT_MS: int = INFINITE

    def _virtual_now(self) -> float:
        return self.clock.now()

    def _virtual_pump_started(self, h_line_app: int) -> None:
        with self._cond:
            if h_line_app in self.provider.apps:
                self._pumped.add(h_line_app)

    def _virtual_run_until(self, done: Callable[[], bool], timeout: float) -> bool:
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

    def wake_at(self, at: float) -> None:
        """A waiter must look again at (virtual) time ``at``: a clock timer that stops ``run_until`` there."""
        with self._cond:
            self.clock.schedule(max(0.0, at - self.clock.now()), _nothing)

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

    def posted(self, app: App, msg: int, device: int, p1: int) -> None:
        notice = getattr(self.api, "posted", None)
        if notice is not None:
            notice(app, msg, device, p1)
        self._cond.notify_all()

    def inject(self, h_line_app: int, msg: LineMsg, device: int, p1: int = 0, p2: int = 0, p3: int = 0) -> None:
        """Queue a message the provider would send on its own (LINE_CREATE, LINE_REMOVE, LINE_CLOSE, ...)."""
        with self._cond:
            self.provider.post(self.provider.app(h_line_app, "inject"), msg, device, p1, p2, p3)
            self._cond.notify_all()

    # ----- request ids and buffers --------------------------------------------------------------
    def reply_generated(self, h_line_app: int, request: int, result: int, new_call: int, data: bytes) -> int:
        """The provider generates the LINE_REPLY of ``request``: write its buffers; returns the id the
        application knows the request by (its own numbering in realistic mode)."""
        kept = self._kept.get(request)
        if kept is None or kept.app != h_line_app:
            return request                      # unknown here (a sync error path) or another app's
        del self._kept[request]
        if result == 0:                         # a failed request never makes its handle valid
            if kept.handle_at:
                poke(kept.handle_at, new_call)
            if kept.data_at and data:
                write_bytes(kept.data_at, data[:kept.data_size])
        return kept.app_request or request

    def _keep(self, request: int, app: int, **where: int) -> int:
        """Register a request the provider accepted; returns the id the application sees."""
        own = 0
        if self._per_app_ids and app:
            own = self._app_requests.get(app, 0) % 0x7FFFFFFF + 1
            self._app_requests[app] = own
        self._kept[request] = _Kept(app, app_request=own, **where)
        return own or request

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

    @staticmethod
    def _call_params(address: int | None, version: int | None, function: str) -> LineCallParams | None:
        if not address or version is None:
            return None
        return read_call_params(address, version, function)

    @staticmethod
    def _forward_list(address: int | None, version: int | None, function: str) -> tuple[LineForward, ...] | None:
        if not address or version is None:
            return None
        return read_forward_list(address, version, function)

    @staticmethod
    def _fill(address: int | None, value: Any, version: int | None, function: str, what: str) -> int:
        write_output(value, _need(address, function, what), version or 0, function)
        return 0

    # ----- initialization, devices, lines -----------------------------------------------------
    def _lineInitializeExW(self, lph_app: int | None, h_instance: int | None, callback: int | None,
                           app_name: int | None, lpdw_num_devs: int | None, lpdw_version: int | None,
                           params: int | None) -> int:
        fn = "lineInitializeEx"
        for pointer, what in ((lph_app, "lphLineApp"), (lpdw_num_devs, "lpdwNumDevs"),
                              (lpdw_version, "lpdwAPIVersion"), (params, "lpLineInitializeExParams")):
            _need(pointer, fn, what)
        assert lph_app and lpdw_num_devs and lpdw_version and params
        name = _text(app_name, fn, "lpszFriendlyAppName") if app_name else "python"
        options = initialize_ex_params(params, 0, fn)
        if options & 0x7FFFFFFF != LineInitializeExOption.USEEVENT:
            raise LineError(LineErr.INVALPARAM, fn, "the double implements only LINEINITIALIZEEXOPTION_USEEVENT")
        h_app, num_devs, version = self.api.line_initialize_ex(name, peek(lpdw_version))
        initialize_ex_params(params, _EVENT_BASE + (h_app & 0xFFFF), fn)
        poke(lph_app, h_app)
        poke(lpdw_num_devs, num_devs)
        poke(lpdw_version, version)
        return 0

    def _lineShutdown(self, h_app: int) -> int:
        self.api.line_shutdown(h_app)
        self._pumped.discard(h_app)
        self._forget_cancelled()
        return 0

    def _lineNegotiateAPIVersion(self, h_app: int, device: int, low: int, high: int, lpdw_version: int | None,
                                 lp_ext_id: int | None) -> int:
        fn = "lineNegotiateAPIVersion"
        at = _need(lpdw_version, fn, "lpdwAPIVersion")
        ext_at = _need(lp_ext_id, fn, "lpExtensionID")
        poke(at, self.api.line_negotiate_api_version(h_app, device, low, high))
        zero_extension_id(ext_at)        # no provider-specific extension
        return 0

    def _lineNegotiateExtVersion(self, h_app: int, device: int, api: int, low: int, high: int,
                                 lpdw_ext: int | None) -> int:
        at = _need(lpdw_ext, "lineNegotiateExtVersion", "lpdwExtVersion")
        poke(at, self.api.line_negotiate_ext_version(h_app, device, api, low, high))
        return 0

    def _lineGetDevCapsW(self, h_app: int, device: int, api: int, ext: int, caps: int | None) -> int:
        fn = "lineGetDevCaps"
        _need(caps, fn, "lpLineDevCaps")
        return self._fill(caps, self.api.line_get_dev_caps(h_app, device, api, ext), api, fn, "lpLineDevCaps")

    def _lineGetAddressCapsW(self, h_app: int, device: int, address: int, api: int, ext: int,
                             caps: int | None) -> int:
        fn = "lineGetAddressCaps"
        _need(caps, fn, "lpAddressCaps")
        value = self.api.line_get_address_caps(h_app, device, address, api, ext)
        return self._fill(caps, value, api, fn, "lpAddressCaps")

    def _lineOpenW(self, h_app: int, device: int, lph_line: int | None, api: int, ext: int, instance: int,
                   privileges: int, media_modes: int, call_params: int | None) -> int:
        at = _need(lph_line, "lineOpen", "lphLine")
        poke(at, self.api.line_open(h_app, device, api, ext, instance, privileges, media_modes))
        return 0

    def _lineClose(self, h_line: int) -> int:
        self.api.line_close(h_line)
        self._forget_cancelled()
        return 0

    def _lineSetStatusMessages(self, h_line: int, line_states: int, address_states: int) -> int:
        self.api.line_set_status_messages(h_line, line_states, address_states)
        return 0

    def _lineGetMessage(self, h_app: int, message: int | None, timeout_ms: int) -> int:
        fn = "lineGetMessage"
        address = _need(message, fn, "lpMessage")
        app = self.provider.app(h_app, fn)

        def ready() -> bool:
            return bool(app.queue) or h_app not in self.provider.apps

        if not app.queue and self.wall:
            self._wall_wait(ready, None if timeout_ms == INFINITE else timeout_ms / 1000.0)
        elif not app.queue and timeout_ms == INFINITE:
            self._waiting[h_app] = self._waiting.get(h_app, 0) + 1
            self._cond.notify_all()
            try:
                self._cond.wait_for(ready)
            finally:
                self._waiting[h_app] -= 1
        elif not app.queue and timeout_ms:
            self._virtual_run_until(ready, timeout_ms / 1000.0)
        if h_app not in self.provider.apps:
            raise LineError(LineErr.INVALAPPHANDLE, fn, "lineShutdown while waiting")
        if not app.queue:
            raise LineError(LineErr.OPERATIONFAILED, fn, f"no message within {timeout_ms} ms")
        write_message(address, app.queue.popleft())
        return 0

    def _wall_wait(self, ready: Callable[[], bool], timeout: float | None) -> None:
        """Block in real time, firing the simulator's due timers, until ``ready()`` or the timeout."""
        deadline = None if timeout is None else self.clock.now() + timeout
        while True:
            self.clock.run_due()
            if ready():
                return
            left = WALL_POLL_SECONDS if deadline is None else min(WALL_POLL_SECONDS, deadline - self.clock.now())
            if left <= 0:
                return
            self._cond.wait(left)            # releases the lock: the application may call in meanwhile

    # ----- queries ----------------------------------------------------------------------------
    def _lineGetAddressStatusW(self, h_line: int, address: int, status: int | None) -> int:
        fn = "lineGetAddressStatus"
        _need(status, fn, "lpAddressStatus")
        value = self.api.line_get_address_status(h_line, address)
        return self._fill(status, value, self._line_version(h_line), fn, "lpAddressStatus")

    def _lineGetLineDevStatusW(self, h_line: int, status: int | None) -> int:
        fn = "lineGetLineDevStatus"
        _need(status, fn, "lpLineDevStatus")
        value = self.api.line_get_line_dev_status(h_line)
        return self._fill(status, value, self._line_version(h_line), fn, "lpLineDevStatus")

    def _lineGetCallInfoW(self, h_call: int, info: int | None) -> int:
        fn = "lineGetCallInfo"
        _need(info, fn, "lpCallInfo")
        value = self.api.line_get_call_info(h_call)
        return self._fill(info, value, self._call_version(h_call), fn, "lpCallInfo")

    def _lineGetCallStatus(self, h_call: int, status: int | None) -> int:
        fn = "lineGetCallStatus"
        _need(status, fn, "lpCallStatus")
        value = self.api.line_get_call_status(h_call)
        return self._fill(status, value, self._call_version(h_call), fn, "lpCallStatus")

    def _lineDeallocateCall(self, h_call: int) -> int:
        self.api.line_deallocate_call(h_call)
        return 0

    # ----- call control (async) ---------------------------------------------------------------
    def _lineMakeCallW(self, h_line: int, lph_call: int | None, dest: int | None, country: int,
                       params: int | None) -> int:
        fn = "lineMakeCall"
        at = _need(lph_call, fn, "lphCall")
        call_params = self._call_params(params, self._line_version(h_line), fn)
        number = _text(dest, fn, "lpszDestAddress") if dest else None
        self.dialled.append(number or "")
        self.made_with.append(call_params)
        request = self.api.line_make_call(h_line, number, country, call_params)
        return self._keep(request, self._app_of_line(h_line), handle_at=at)

    def _lineDialW(self, h_call: int, dest: int | None, country: int) -> int:
        return self._async(self.api.line_dial, h_call, h_call, _text(dest, "lineDial", "lpszDestAddress"), country)

    def _async(self, function: Callable[..., int], h_call: int, *args: Any) -> int:
        """An async function on ``h_call`` that writes no buffer: its request id, as the application sees it."""
        app = self._app_of_call(h_call)
        return self._keep(int(function(*args)), app)

    @staticmethod
    def _uui(data: int | None, size: int, function: str) -> None:
        if size and not data:
            raise LineError(LineErr.INVALPOINTER, function, "lpsUserUserInfo is NULL with dwSize > 0")

    def _lineAnswer(self, h_call: int, uui: int | None, size: int) -> int:
        self._uui(uui, size, "lineAnswer")
        return self._async(self.api.line_answer, h_call, h_call)

    def _lineAccept(self, h_call: int, uui: int | None, size: int) -> int:
        self._uui(uui, size, "lineAccept")
        accept = getattr(self.api, "line_accept", None)
        if accept is None:
            raise LineError(LineErr.OPERATIONUNAVAIL, "lineAccept", "this PBX's lines need no lineAccept")
        return self._async(accept, h_call, h_call)

    def _lineSetCallPrivilege(self, h_call: int, privilege: int) -> int:
        if self.refuse_privilege:
            raise LineError(self.refuse_privilege, "lineSetCallPrivilege", "refused (test)")
        change = getattr(self.api, "line_set_call_privilege", None)
        if change is None:
            raise LineError(LineErr.OPERATIONUNAVAIL, "lineSetCallPrivilege", "not emulated by the simulator PBX")
        change(h_call, privilege)
        return 0

    def _lineTranslateAddressW(self, h_app: int, device: int, api: int, address: int | None, card: int,
                               options: int, output: int | None) -> int:
        fn = "lineTranslateAddress"
        at = _need(output, fn, "lpTranslateOutput")
        self.provider.app(h_app, fn)
        self.api.device_for(device, fn)
        text = _text(address, fn, "lpszAddressIn") if address else ""
        if not text:
            raise LineError(LineErr.INVALADDRESS, fn, "empty lpszAddressIn")
        digits = "".join(ch for ch in text if ch.isdigit())
        dialable = self.translations.get(text) or (("+" if text.startswith("+") else "") + digits)
        write_translate_output(at, dialable, text, fn)
        return 0

    def _lineDrop(self, h_call: int, uui: int | None, size: int) -> int:
        self._uui(uui, size, "lineDrop")
        return self._async(self.api.line_drop, h_call, h_call)

    def _lineHold(self, h_call: int) -> int:
        return self._async(self.api.line_hold, h_call, h_call)

    def _lineUnhold(self, h_call: int) -> int:
        return self._async(self.api.line_unhold, h_call, h_call)

    def _lineSwapHold(self, h_active: int, h_held: int) -> int:
        return self._async(self.api.line_swap_hold, h_active, h_active, h_held)

    def _lineBlindTransferW(self, h_call: int, dest: int | None, country: int) -> int:
        number = _text(dest, "lineBlindTransfer", "lpszDestAddress")
        return self._async(self.api.line_blind_transfer, h_call, h_call, number, country)

    def _lineSetupTransferW(self, h_call: int, lph_consult: int | None, params: int | None) -> int:
        fn = "lineSetupTransfer"
        at = _need(lph_consult, fn, "lphConsultCall")
        call_params = self._call_params(params, self._call_version(h_call), fn)
        request = self.api.line_setup_transfer(h_call, call_params)
        return self._keep(request, self._app_of_call(h_call), handle_at=at)

    def _lineCompleteTransfer(self, h_call: int, h_consult: int, lph_conf: int | None, mode: int) -> int:
        fn = "lineCompleteTransfer"
        if mode == LineTransferMode.CONFERENCE:
            _need(lph_conf, fn, "lphConfCall (conference mode)")
        app = self._app_of_call(h_call)
        request: int = self.api.line_complete_transfer(h_call, h_consult, mode)
        conference = mode == LineTransferMode.CONFERENCE and lph_conf
        return self._keep(request, app, handle_at=lph_conf or 0 if conference else 0)

    def _lineRedirectW(self, h_call: int, dest: int | None, country: int) -> int:
        number = _text(dest, "lineRedirect", "lpszDestAddress")
        return self._async(self.api.line_redirect, h_call, h_call, number, country)

    def _lineForwardW(self, h_line: int, all_addresses: int, address: int, forward_list: int | None, rings: int,
                      lph_consult: int | None, params: int | None) -> int:
        fn = "lineForward"
        at = _need(lph_consult, fn, "lphConsultCall")    # required even when no consult call is made
        version = self._line_version(h_line)
        entries = self._forward_list(forward_list, version, fn)
        self._call_params(params, version, fn)
        request = self.api.line_forward(h_line, bool(all_addresses), address, entries, rings)
        return self._keep(request, self._app_of_line(h_line), handle_at=at)

    def _lineDevSpecific(self, h_line: int, address: int, h_call: int, params: int | None, size: int) -> int:
        fn = "lineDevSpecific"
        if size:
            _need(params, fn, "lpParams (dwSize > 0)")
        data = read_bytes(params, size) if params and size else b""
        request = self.api.line_dev_specific(h_line, address, h_call, data)
        return self._keep(request, self._app_of_line(h_line), data_at=params or 0, data_size=size)
