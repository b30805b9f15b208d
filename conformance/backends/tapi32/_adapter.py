"""``Tapi32Backend``: the Backend contract on top of a tapi32 function table (the DLL or its emulation).

How it uses TAPI (docs/tapi.md §2.8, §3, §6.1, §13):

* ``lineInitializeExW`` in USEEVENT mode; one dedicated message thread per hLineApp loops on
  ``lineGetMessage`` and feeds a queue that ``line_get_message(timeout)`` reads.
* Output handles (``lphCall``, ``lphConsultCall``, ``lphConfCall``) and lineDevSpecific buffers are
  kept per (hLineApp, request id) - request ids are only unique per application (docs/tapi.md §3) -
  until that request's LINE_REPLY, whose ``LineMessage`` is then enriched with ``new_call`` / ``data``
  read from them; lineClose / lineShutdown / lineDeallocateCall of the call drop what they cancel.
* Variable-size structures are fetched with the grow-and-retry loop: STRUCTURETOOSMALL below the fixed
  part -> grow; ``dwNeededSize > dwTotalSize`` -> reallocate to dwNeededSize and call again. Still
  truncated after the last round is ``LINEERR_STRUCTURETOOSMALL``, never half the data.
* Provider-initiated messages update the adapter's state before anyone reads them (docs/tapi.md §7):
  LINE_CLOSE forgets the line, LINE_LINEDEVSTATE(REINIT) marks the application as needing
  re-initialisation, LINE_CREATE raises the device count, LINE_REMOVE marks the device removed and
  forgets its open lines.
* ``line_shutdown`` closes the application's open lines first (lineClose before lineShutdown).
* Every prototype's errcheck turns a negative LONG into ``LineError``; LINE_REPLY results stay the DWORD
  TAPI wrote and ``LineMessage.result`` reads them back signed.

Time: on Windows, waiting is waiting on real time. On the emulated DLL the function table also offers
``now`` / ``run_until`` / ``pump_started`` (its virtual clock), which this adapter uses instead of
blocking, so a 30 s timeout costs nothing and runs are deterministic. Nothing here imports the simulator's
provider: the emulated DLL is reached only through its C exports and that clock.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import heapq
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from conformance._operator import Operator
from conformance.backend import INTERACTIVEVOICE, OWNER_MONITOR
from conformance.backends.tapi32._buffers import decode_string
from conformance.backends.tapi32._codec import (
    build_call_params,
    build_forward_list,
    message_from_struct,
    read_struct,
)
from conformance.backends.tapi32._dll import FunctionTable, bind, load_tapi32
from conformance.backends.tapi32._parties import Tapi32Parties, answer_delays
from conformance.backends.tapi32._spec import parse_spec
from conformance.backends.tapi32._structs import (
    LINEADDRESSCAPS,
    LINEADDRESSSTATUS,
    LINECALLINFO,
    LINECALLPARAMS,
    LINECALLSTATUS,
    LINEDEVCAPS,
    LINEDEVSTATUS,
    LINEEXTENSIONID,
    LINEFORWARDLIST,
    LINEINITIALIZEEXPARAMS,
    LINEMESSAGE,
    LINETRANSLATEOUTPUT,
    fixed_size,
)
from simulator._constants import (
    ApiVersion,
    LineDevState,
    LineErr,
    LineInitializeExOption,
    LineMsg,
    LineTransferMode,
)
from simulator._errors import BackendUnavailable, LineError
from simulator._messages import LineMessage
from simulator._profile_model import Profile
from simulator._structs import (
    LineAddressCaps,
    LineAddressStatus,
    LineCallInfo,
    LineCallParams,
    LineCallStatus,
    LineDevCaps,
    LineDevStatus,
    LineForward,
)

__all__ = ["Tapi32Backend"]

DWORD = ctypes.c_uint32
MAX_ATTEMPTS: Final = 6          # grow-and-retry rounds; data may change between rounds (§6.1 step 5)
REAL_PUMP_TIMEOUT_MS: Final = 250    # the real message thread wakes this often to notice a stop
JOIN_SECONDS: Final = 5.0


class _RealTime:
    """Wall-clock time for the real DLL: waits block on a condition the message threads notify."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin

    def run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        with self._cv:
            return self._cv.wait_for(done, max(0.0, timeout))

    def pump_started(self, h_line_app: int) -> None:
        pass

    def wake_at(self, at: float) -> None:
        """Wake the waiters at ``at`` (a ``call_later`` action falls due)."""
        timer = threading.Timer(max(0.0, at - self.now()), self.notify)
        timer.daemon = True
        timer.start()

    def notify(self) -> None:
        with self._cv:
            self._cv.notify_all()


@dataclass(eq=False)
class _Pending:
    """What one async request must keep alive until its LINE_REPLY."""

    app: int
    line: int
    call: int = 0                             # the call the request acts on (0 for line requests)
    handle: ctypes.c_uint32 | None = None
    buffer: Any = None                        # lineDevSpecific lpParams (a ctypes char array)
    inputs: tuple[Any, ...] = ()              # input structures, kept for the request's lifetime


@dataclass(eq=False)
class _App:
    handle: int
    queue: deque[LineMessage] = field(default_factory=deque)
    listener: Callable[[LineMessage], None] | None = None
    thread: threading.Thread | None = None
    stopping: bool = False
    num_devs: int = 0                         # lineInitializeEx's count, raised by LINE_CREATE
    reinit: bool = False                      # LINE_LINEDEVSTATE(REINIT) seen: shut down and start again


class Tapi32Backend:
    """The TAPI 2.x Backend over tapi32.dll's W exports (or the emulated DLL)."""

    name = "tapi32"

    def __init__(self, functions: FunctionTable, *, profile: Profile | None = None,
                 operator: Operator | None = None, open_parties: bool = True) -> None:
        self.fn = functions
        source = functions.source
        self._time: Any = source if hasattr(source, "run_until") else _RealTime()
        self._pump_timeout: int = getattr(source, "PUMP_TIMEOUT_MS", REAL_PUMP_TIMEOUT_MS)
        self._lock = threading.RLock()
        self.request_lock = self._lock     # held across a request so its reply cannot overtake it
        self._apps: dict[int, _App] = {}
        self._lines: dict[int, tuple[int, int, int]] = {}  # hLine -> (hLineApp, negotiated version, device)
        self._call_line: dict[int, int] = {}               # hCall -> hLine, when known
        self._call_app: dict[int, int] = {}                # hCall -> hLineApp whose handle it is
        self._pending: dict[tuple[int, int], _Pending] = {}   # (hLineApp, request id) -> kept buffers
        self.removed_devices: set[int] = set()             # LINE_REMOVE
        self.initial_size: int | None = None               # buffer size of the first try (None: fixed+1024)
        self.errors: list[str] = []                         # message-thread faults
        # Set by the trace (conformance._trace) while it records a call: gets each variable-size
        # structure the DLL filled, as (struct name, API version, the bytes up to dwUsedSize).
        self.raw_sink: Callable[[str, int | None, bytes], None] | None = None
        self.profile = profile
        self._due: list[tuple[float, int, Callable[[], None]]] = []   # call_later: (time, seq, action)
        self._due_seq = 0
        self.parties = Tapi32Parties(self, profile.pixit if profile else None, operator,
                                     answer_delays(profile) if profile else None)
        if open_parties:
            self.parties.open()

    # ----- construction ---------------------------------------------------------------------
    @classmethod
    def from_spec(cls, target: str, profile: Profile | None) -> Tapi32Backend:
        """Open the backend a ``tapi32:`` spec names (see ``_spec.parse_spec`` for the forms)."""
        spec = parse_spec(target)
        if spec.kind == "emulated":
            return cls.emulated(spec.profile or profile, **spec.options)
        return cls(load_tapi32(spec.path), profile=profile)

    @classmethod
    def emulated(cls, profile: Profile | str | os.PathLike[str] | None, *, clock: str = "virtual",
                 pbx: str = "simulator", **kwargs: Any) -> Tapi32Backend:
        """The adapter over the tapi32 double (``conformance.backends.tapi32_double``) and ``profile``."""
        from conformance.backends.tapi32_double import Tapi32Double
        from simulator._profile import load_profile

        if profile is None:
            raise BackendUnavailable("tapi32:emulated needs a profile (--profile or tapi32:emulated:PATH)")
        loaded = profile if isinstance(profile, Profile) else load_profile(profile)
        double = Tapi32Double(loaded, clock=clock, pbx=pbx)
        # pbx=realistic: the PIXIT a tester would write for that installation (its CTI ports as party lines)
        return cls(bind(double), profile=double.run_profile, **kwargs)

    def info(self) -> dict[str, Any]:
        source = self.fn.source
        describe = getattr(source, "describe", None)
        dll = describe() if callable(describe) else {"dll": "tapi32.dll"}
        roles = {role: self.parties.how(role) for role in self.parties.describe()}
        return {"backend": "tapi32", **dll, "party_lines": self.parties.describe(), "party_roles": roles}

    def now(self) -> float:
        now: float = self._time.now()
        return now

    def close(self) -> None:
        """Close the party lines and every application (each: lineClose of its lines, then lineShutdown)."""
        self.parties.close()
        for h_app in list(self._apps):
            with contextlib.suppress(LineError):
                self.line_shutdown(h_app)

    # ----- the message threads --------------------------------------------------------------
    def _start_app(self, h_app: int, listener: Callable[[LineMessage], None] | None, num_devs: int) -> None:
        app = _App(h_app, listener=listener, num_devs=num_devs)
        app.thread = threading.Thread(target=self._pump, args=(app,), name=f"tapi32-msg-{h_app:08X}",
                                      daemon=True)
        with self._lock:
            self._apps[h_app] = app
        self._time.pump_started(h_app)
        app.thread.start()

    def _pump(self, app: _App) -> None:
        raw = LINEMESSAGE()
        while not app.stopping:
            try:
                self.fn.lineGetMessage(app.handle, ctypes.byref(raw), self._pump_timeout)
            except LineError as exc:
                if exc.code == LineErr.OPERATIONFAILED and not app.stopping:
                    continue                       # timeout: look at the stop flag, wait again
                break                              # INVALAPPHANDLE: lineShutdown ran
            message = self._enrich(message_from_struct(raw), app)
            if app.listener is not None:
                try:
                    app.listener(message)
                except Exception as exc:
                    self.errors.append(f"listener of 0x{app.handle:08X}: {exc!r}")
            else:
                with self._lock:
                    app.queue.append(message)
            self._notify()

    def _notify(self) -> None:
        notify = getattr(self._time, "notify", None)
        if notify is not None:
            notify()

    def _enrich(self, message: LineMessage, app: _App) -> LineMessage:
        """Update the adapter's state from ``message`` and attach what TAPI wrote into the request's
        buffers when it generated a LINE_REPLY."""
        with self._lock:
            message = dataclasses.replace(message, time=self.now())
            if message.msg == LineMsg.APPNEWCALL:
                self._call_line[message.param2] = message.device
                self._call_app[message.param2] = app.handle
            elif message.msg == LineMsg.CALLSTATE:
                self._call_app.setdefault(message.device, app.handle)
            elif message.msg in (LineMsg.CLOSE, LineMsg.LINEDEVSTATE, LineMsg.CREATE, LineMsg.REMOVE):
                self._provider_event(message, app)
            if message.msg != LineMsg.REPLY:
                return message
            pending = self._pending.pop((app.handle, message.request_id), None)
            if pending is None or message.result != 0:
                return message
            new_call = pending.handle.value if pending.handle is not None else 0
            data = bytes(pending.buffer.raw) if pending.buffer is not None else b""
            if new_call and pending.line:
                self._call_line[new_call] = pending.line
            if new_call:
                self._call_app[new_call] = app.handle
            return dataclasses.replace(message, new_call=new_call, data=data)

    def _provider_event(self, message: LineMessage, app: _App) -> None:
        """LINE_CLOSE / LINE_LINEDEVSTATE(REINIT) / LINE_CREATE / LINE_REMOVE (docs/tapi.md §7), lock held."""
        if message.msg == LineMsg.CLOSE:
            self._forget_line(message.device)            # the handle is invalid from now on
        elif message.msg == LineMsg.LINEDEVSTATE:
            if message.param1 & LineDevState.REINIT:
                app.reinit = True
        elif message.msg == LineMsg.CREATE:
            app.num_devs = max(app.num_devs, message.param1 + 1)     # dwParam1 = the new device id
            self.removed_devices.discard(message.param1)
        elif message.msg == LineMsg.REMOVE:
            self.removed_devices.add(message.param1)                  # dwParam1 = the removed device id
            for h_line in [h for h, (a, _v, d) in self._lines.items() if a == app.handle and d == message.param1]:
                self._forget_line(h_line)

    def device_count(self, h_line_app: int) -> int:
        """Line devices of ``h_line_app``: lineInitializeEx's count, raised by every LINE_CREATE."""
        app = self._apps.get(h_line_app)
        return app.num_devs if app is not None else 0

    def needs_reinit(self, h_line_app: int) -> bool:
        """True after LINE_LINEDEVSTATE(REINIT) for ``h_line_app``: only lineShutdown is useful now."""
        app = self._apps.get(h_line_app)
        return app is not None and app.reinit

    def is_open(self, h_line: int) -> bool:
        """False once the line was closed by us, by LINE_CLOSE or by LINE_REMOVE of its device."""
        return h_line in self._lines

    def app_listener(self, app_name: str, listener: Callable[[LineMessage], None],
                     api_version: int = ApiVersion.V2_2) -> tuple[int, int, int]:
        """lineInitializeEx for a helper (party control) whose messages go to ``listener``, not a queue."""
        return self._initialize(app_name, api_version, listener)

    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Let (real or virtual) time pass until ``done()`` or ``timeout`` seconds; returns ``done()``."""
        return self._run_until(done, timeout)

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` once ``delay`` seconds (backend time) have passed, on the thread that is waiting
        then (``wait_until`` / ``line_get_message``), never on a message thread: the party's delayed
        lineAnswer. Errors of ``action`` are recorded in ``errors``."""
        at = self.now() + max(0.0, delay)
        with self._lock:
            self._due_seq += 1
            heapq.heappush(self._due, (at, self._due_seq, action))
        wake = getattr(self._time, "wake_at", None)
        if wake is not None:
            wake(at)
        self._notify()

    def _action_due(self) -> bool:
        with self._lock:
            return bool(self._due) and self._due[0][0] <= self.now()

    def _run_due(self) -> bool:
        ran = False
        while True:
            with self._lock:
                if not self._due or self._due[0][0] > self.now():
                    return ran
                _at, _seq, action = heapq.heappop(self._due)
            try:
                action()
            except Exception as exc:
                self.errors.append(f"delayed action: {exc!r}")
            ran = True

    def _run_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """``run_until`` of the time source that stops for due ``call_later`` actions and runs them."""
        deadline = self.now() + max(0.0, timeout)
        while True:
            ok: bool = self._time.run_until(lambda: done() or self._action_due(),
                                            max(0.0, deadline - self.now()))
            if not self._run_due():
                return ok
            if done():
                return True

    # ----- initialization, devices, lines (sync) ----------------------------------------------
    def _initialize(self, app_name: str, api_version: int,
                    listener: Callable[[LineMessage], None] | None) -> tuple[int, int, int]:
        h_app, num_devs, version = DWORD(), DWORD(), DWORD(api_version)
        params = LINEINITIALIZEEXPARAMS()
        params.dwTotalSize = ctypes.sizeof(params)
        params.dwOptions = LineInitializeExOption.USEEVENT
        self.fn.lineInitializeExW(ctypes.byref(h_app), None, None, app_name, ctypes.byref(num_devs),
                                  ctypes.byref(version), ctypes.byref(params))
        self._start_app(h_app.value, listener, num_devs.value)
        return h_app.value, num_devs.value, version.value

    def line_initialize_ex(self, app_name: str, api_version: int = ApiVersion.V2_2) -> tuple[int, int, int]:
        return self._initialize(app_name, api_version, None)

    def line_shutdown(self, h_line_app: int) -> None:
        """lineClose every line the application still has open, then lineShutdown (docs/tapi.md §2.6)."""
        with self._lock:
            still_open = [h for h, (a, _v, _d) in self._lines.items() if a == h_line_app]
        for h_line in still_open:
            with contextlib.suppress(LineError):      # already gone at the provider: nothing to close
                self.line_close(h_line)
        self.fn.lineShutdown(h_line_app)
        with self._lock:
            app = self._apps.pop(h_line_app, None)
            for key in [k for k in self._pending if k[0] == h_line_app]:
                del self._pending[key]
            for h_line in [h for h, (a, _v, _d) in self._lines.items() if a == h_line_app]:
                self._forget_line(h_line)
            for h_call in [c for c, a in self._call_app.items() if a == h_line_app]:
                self._forget_call(h_call)
        if app is not None:
            app.stopping = True
            if app.thread is not None and app.thread is not threading.current_thread():
                app.thread.join(JOIN_SECONDS)

    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int:
        version, ext_id = DWORD(), LINEEXTENSIONID()
        self.fn.lineNegotiateAPIVersion(h_line_app, device_id, low, high, ctypes.byref(version),
                                        ctypes.byref(ext_id))
        return version.value

    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int,
                                   low: int, high: int) -> int:
        version = DWORD()
        self.fn.lineNegotiateExtVersion(h_line_app, device_id, api_version, low, high, ctypes.byref(version))
        return version.value

    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps:
        caps: LineDevCaps = self._query(LineDevCaps, LINEDEVCAPS, api_version, lambda p: self.fn.lineGetDevCapsW(
            h_line_app, device_id, api_version, ext_version, p))
        return caps

    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps:
        caps: LineAddressCaps = self._query(LineAddressCaps, LINEADDRESSCAPS, api_version,
                                            lambda p: self.fn.lineGetAddressCapsW(
                                                h_line_app, device_id, address_id, api_version, ext_version, p))
        return caps

    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = OWNER_MONITOR,
                  media_modes: int = INTERACTIVEVOICE) -> int:
        h_line = DWORD()
        self.fn.lineOpenW(h_line_app, device_id, ctypes.byref(h_line), api_version, ext_version,
                          callback_instance, privileges, media_modes, None)
        with self._lock:
            self._lines[h_line.value] = (h_line_app, api_version, device_id)
        return h_line.value

    def line_close(self, h_line: int) -> None:
        try:
            self.fn.lineClose(h_line)
        finally:            # also when TAPI says the handle is already invalid (LINE_CLOSE raced us)
            with self._lock:
                self._forget_line(h_line)

    def _forget_line(self, h_line: int) -> None:
        """After lineClose / LINE_CLOSE: its pending requests get no reply, its call handles are gone."""
        self._lines.pop(h_line, None)
        for key in [k for k, p in self._pending.items() if p.line == h_line]:
            del self._pending[key]
        for h_call in [c for c, ln in self._call_line.items() if ln == h_line]:
            self._forget_call(h_call)

    def _forget_call(self, h_call: int) -> None:
        """After lineDeallocateCall (or its line's end): requests on the call will never be answered."""
        self._call_line.pop(h_call, None)
        self._call_app.pop(h_call, None)
        for key in [k for k, p in self._pending.items() if p.call == h_call]:
            del self._pending[key]

    def line_set_status_messages(self, h_line: int, line_states: int, address_states: int) -> None:
        self.fn.lineSetStatusMessages(h_line, line_states, address_states)

    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None:
        app = self._apps.get(h_line_app)
        if app is None:
            raise LineError(LineErr.INVALAPPHANDLE, "lineGetMessage", f"no application 0x{h_line_app:08X}")
        self._run_until(lambda: bool(app.queue) or app.stopping, timeout)
        with self._lock:
            return app.queue.popleft() if app.queue else None

    # ----- variable-size structures -----------------------------------------------------------
    def _query(self, value_cls: type[Any], struct_cls: type[ctypes.Structure], version: int | None,
               call: Callable[[Any], int]) -> Any:
        """The grow-and-retry loop of docs/tapi.md §6.1 around one ``lineGet...`` call."""
        name = struct_cls.__name__
        try:
            fixed = fixed_size(name, version or ApiVersion.V3_1)
        except ValueError:      # a version TAPI never negotiates: the DLL says so (INCOMPATIBLEAPIVERSION)
            fixed = fixed_size(name, ApiVersion.V3_1)
        raw = self._fetch(name, fixed, struct_cls, call)
        if self.raw_sink is not None:
            self.raw_sink(name, version, raw[:int.from_bytes(raw[8:12], "little")])   # up to dwUsedSize
        return read_struct(value_cls, raw, api_version=version)

    def _fetch(self, name: str, fixed: int, struct_cls: type[ctypes.Structure], call: Callable[[Any], int]
               ) -> bytes:
        """The complete image of one variable-size structure, or ``LineError(STRUCTURETOOSMALL)``.

        A buffer whose ``dwNeededSize`` still exceeds ``dwTotalSize`` after the last round is an error:
        the variable part is incomplete (docs/tapi.md §6.1), and reading it would report absent strings.
        """
        size = self.initial_size or fixed + 1024
        for _attempt in range(MAX_ATTEMPTS):
            buf = ctypes.create_string_buffer(size)
            DWORD.from_buffer(buf).value = size
            try:
                call(ctypes.cast(buf, ctypes.POINTER(struct_cls)))
            except LineError as exc:
                if exc.code != LineErr.STRUCTURETOOSMALL:
                    raise
                size = max(size * 2, fixed)
                continue
            needed = DWORD.from_buffer(buf, 4).value
            if needed <= size:
                return buf.raw
            size = needed
        raise LineError(LineErr.STRUCTURETOOSMALL, name,
                        f"still truncated after {MAX_ATTEMPTS} grow-and-retry rounds (last dwTotalSize {size})")

    def _line_version(self, h_line: int) -> int | None:
        entry = self._lines.get(h_line)
        return entry[1] if entry else None

    def line_translate_address(self, h_line_app: int, device_id: int, api_version: int, address: str) -> str:
        """lineTranslateAddressW: the DialableString for canonical ``address`` (docs/tapi.md §4)."""
        fixed = fixed_size("LINETRANSLATEOUTPUT", api_version)
        raw = self._fetch("LINETRANSLATEOUTPUT", fixed, LINETRANSLATEOUTPUT, lambda p: self.fn.lineTranslateAddressW(
            h_line_app, device_id, api_version, address, 0, 0, p))
        out = LINETRANSLATEOUTPUT.from_buffer_copy(raw[:ctypes.sizeof(LINETRANSLATEOUTPUT)])
        size, offset = out.dwDialableStringSize, out.dwDialableStringOffset
        if not size or offset < fixed or offset + size > len(raw):
            raise LineError(LineErr.OPERATIONFAILED, "lineTranslateAddress", f"no DialableString for {address!r}")
        return decode_string(raw[offset:offset + size], "utf-16-le")

    def _call_version(self, h_call: int) -> int | None:
        return self._line_version(self._call_line.get(h_call, 0))

    # ----- queries (sync) ---------------------------------------------------------------------
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        status: LineAddressStatus = self._query(
            LineAddressStatus, LINEADDRESSSTATUS, self._line_version(h_line),
            lambda p: self.fn.lineGetAddressStatusW(h_line, address_id, p))
        return status

    def line_get_line_dev_status(self, h_line: int) -> LineDevStatus:
        """lineGetLineDevStatusW, grown and retried like every variable-size structure (docs/tapi.md §2.9, §6.1)."""
        status: LineDevStatus = self._query(LineDevStatus, LINEDEVSTATUS, self._line_version(h_line),
                                            lambda p: self.fn.lineGetLineDevStatusW(h_line, p))
        return status

    def line_get_call_info(self, h_call: int) -> LineCallInfo:
        info: LineCallInfo = self._query(LineCallInfo, LINECALLINFO, self._call_version(h_call),
                                         lambda p: self.fn.lineGetCallInfoW(h_call, p))
        with self._lock:
            if info.line in self._lines:
                self._call_line.setdefault(h_call, info.line)
        return info

    def line_get_call_status(self, h_call: int) -> LineCallStatus:
        status: LineCallStatus = self._query(LineCallStatus, LINECALLSTATUS, self._call_version(h_call),
                                             lambda p: self.fn.lineGetCallStatus(h_call, p))
        return status

    def line_deallocate_call(self, h_call: int) -> None:
        self.fn.lineDeallocateCall(h_call)
        with self._lock:
            self._forget_call(h_call)

    # ----- call control (async) ---------------------------------------------------------------
    def _request(self, call: Callable[..., int], *, line: int = 0, on_call: int = 0, handle: bool = False,
                 buffer: Any = None, inputs: tuple[Any, ...] = ()) -> int:
        """Issue one async request, keeping its output buffers until LINE_REPLY (§0.6, §13).

        The lock is held across the call so the message thread cannot see the reply before the
        buffers are registered under its request id.
        """
        out = DWORD(0) if handle else None
        with self._lock:
            request: int = call(ctypes.byref(out) if out is not None else None)
            if out is not None or buffer is not None or inputs:
                app = self._lines[line][0] if line in self._lines else self._call_app.get(on_call, 0)
                if not app and len(self._apps) == 1:
                    app = next(iter(self._apps))
                self._pending[(app, request)] = _Pending(app, line, on_call, out, buffer, inputs)
        return request

    def _call_params(self, params: LineCallParams | None, version: int | None) -> Any:
        if params is None:
            return None
        raw = build_call_params(params, version or ApiVersion.V2_2)
        return ctypes.create_string_buffer(raw, len(raw))

    @staticmethod
    def _as(buffer: Any, struct_cls: type[ctypes.Structure]) -> Any:
        return ctypes.cast(buffer, ctypes.POINTER(struct_cls)) if buffer is not None else None

    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int:
        params = self._call_params(call_params, self._line_version(h_line))
        return self._request(lambda out: self.fn.lineMakeCallW(
            h_line, out, dest_address, country_code, self._as(params, LINECALLPARAMS)),
            line=h_line, handle=True, inputs=(params,))

    def line_dial(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        request: int = self.fn.lineDialW(h_call, dest_address, country_code)
        return request

    def line_answer(self, h_call: int) -> int:
        request: int = self.fn.lineAnswer(h_call, None, 0)
        return request

    def line_accept(self, h_call: int) -> int:
        """lineAccept (async): claim an OFFERING call before answering it (some TSPs require it)."""
        request: int = self.fn.lineAccept(h_call, None, 0)
        return request

    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        """lineSetCallPrivilege (sync): become OWNER (or MONITOR) of a call another app owns."""
        self.fn.lineSetCallPrivilege(h_call, privilege)

    def line_drop(self, h_call: int) -> int:
        request: int = self.fn.lineDrop(h_call, None, 0)
        return request

    def line_hold(self, h_call: int) -> int:
        request: int = self.fn.lineHold(h_call)
        return request

    def line_unhold(self, h_call: int) -> int:
        request: int = self.fn.lineUnhold(h_call)
        return request

    def line_swap_hold(self, h_active_call: int, h_held_call: int) -> int:
        request: int = self.fn.lineSwapHold(h_active_call, h_held_call)
        return request

    def line_blind_transfer(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        request: int = self.fn.lineBlindTransferW(h_call, dest_address, country_code)
        return request

    def line_setup_transfer(self, h_call: int, call_params: LineCallParams | None = None) -> int:
        h_line = self._call_line.get(h_call, 0)
        params = self._call_params(call_params, self._line_version(h_line))
        return self._request(lambda out: self.fn.lineSetupTransferW(h_call, out, self._as(params, LINECALLPARAMS)),
                             line=h_line, on_call=h_call, handle=True, inputs=(params,))

    def line_complete_transfer(self, h_call: int, h_consult_call: int, transfer_mode: int) -> int:
        conference = transfer_mode == LineTransferMode.CONFERENCE
        return self._request(lambda out: self.fn.lineCompleteTransfer(h_call, h_consult_call, out, transfer_mode),
                             line=self._call_line.get(h_call, 0), on_call=h_call, handle=conference)

    def line_redirect(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        request: int = self.fn.lineRedirectW(h_call, dest_address, country_code)
        return request

    def line_forward(self, h_line: int, all_addresses: bool, address_id: int,
                     forward_list: tuple[LineForward, ...] | None, num_rings_no_answer: int = 0) -> int:
        """lineForwardW with a LINEFORWARDLIST for the line's version; None cancels all forwarding."""
        raw = None if forward_list is None else build_forward_list(
            forward_list, self._line_version(h_line) or ApiVersion.V2_2)
        block = ctypes.create_string_buffer(raw, len(raw)) if raw is not None else None
        return self._request(lambda out: self.fn.lineForwardW(
            h_line, int(all_addresses), address_id, self._as(block, LINEFORWARDLIST), num_rings_no_answer,
            out, None), line=h_line, handle=True, inputs=(block,))

    def line_dev_specific(self, h_line: int, address_id: int, h_call: int, params: bytes) -> int:
        buffer = ctypes.create_string_buffer(bytes(params), len(params)) if params else None
        return self._request(lambda _out: self.fn.lineDevSpecific(
            h_line, address_id, h_call, buffer, len(params)), line=h_line, buffer=buffer)
