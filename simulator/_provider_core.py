"""The TAPI provider: applications, line devices, handles, requests, replies and messages.

It maps TAPI 2.x line functions onto the switch with TAPI's own rules (docs/tapi.md §2-§7):
synchronous functions return or raise ``LineError``; asynchronous ones return a positive request id
and later post exactly one LINE_REPLY; a new call's handle is valid, and its events flow, only from its
reply on; LINE_ADDRESSSTATE / LINE_LINEDEVSTATE go only to lines that enabled them. Call-control
functions live in ``_callcontrol.py`` (class ``Provider``); this module is the plumbing they share.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar, cast

from simulator import _caps
from simulator._calls import MONITOR, OWNER, Device, LineCall
from simulator._clock import Clock, Timer, VirtualClock
from simulator._constants import (
    ApiVersion,
    LineAddressState,
    LineCallInfoState,
    LineCallPrivilege,
    LineCallState,
    LineDevState,
    LineDevStatusFlags,
    LineErr,
    LineFeature,
    LineMediaMode,
    LineMsg,
    LineOpenOption,
    LineRoamMode,
)
from simulator._errors import LineError
from simulator._faults import ASYNC_FUNCTIONS, PARTY_APP_NAME, UNCOUNTED_FUNCTIONS
from simulator._messages import LineMessage
from simulator._partyview import EXTERNAL_ROLES
from simulator._profile_model import Profile
from simulator._structs import (
    LineAddressCaps,
    LineAddressStatus,
    LineCallInfo,
    LineCallStatus,
    LineDevCaps,
    LineDevStatus,
)
from simulator._switch import Pbx

__all__ = ["App", "Handle", "Line", "ProviderCore", "tapi"]

NONE: Final = int(LineCallPrivilege.NONE)
# lineOpen: a privilege plus LINEOPENOPTION_* flags; anything else is LINEERR_INVALPRIVSELECT.
_OPEN_BITS: Final = int(LineCallPrivilege.NONE | LineCallPrivilege.MONITOR | LineCallPrivilege.OWNER
                       | LineOpenOption.SINGLEADDRESS | LineOpenOption.PROXY)
MIN_API, MAX_API = ApiVersion.V1_3, ApiVersion.V3_1
_STATE_VALUE = {s.name: int(s) for s in LineCallState}   # state name -> dwCallState, without an enum look-up
# plain ints: IntFlag "&" runs Python code in enum.py, and these are tested on every state change
_DEV_STATE_BITS = {"OFFERING": int(LineDevState.RINGING), "CONNECTED": int(LineDevState.CONNECTED),
                   "DISCONNECTED": int(LineDevState.DISCONNECTED)}
_NUMCALLS = int(LineAddressState.NUMCALLS)
_NUMCALLS_STATES = frozenset({"OFFERING", "IDLE", "DIALTONE", "UNKNOWN"})


@dataclass(eq=False)
class App:
    handle: int
    name: str
    api_version: int
    queue: deque[LineMessage] = field(default_factory=deque)
    lines: dict[int, Line] = field(default_factory=dict)
    pending: set[int] = field(default_factory=set)
    requests: int = 0                                       # counted requests (after_requests), see tapi()
    calls: Counter[str] = field(default_factory=Counter)    # TAPI function -> times called (occurs)

    @property
    def harness(self) -> bool:
        """The party-control helper of the tapi32 backend: its requests never count or meet faults."""
        return self.name == PARTY_APP_NAME


@dataclass(eq=False)
class Line:
    handle: int
    app: App
    device_id: int
    device: Device
    api_version: int
    ext_version: int
    instance: int
    privileges: int
    media_modes: int
    line_states: int = int(LineDevState.REINIT)
    address_states: int = 0
    in_service: bool = True
    pending: set[int] = field(default_factory=set)
    call_handles: set[int] = field(default_factory=set)   # hCalls on this line: lineClose must not scan them all


@dataclass(eq=False)
class Handle:
    call: LineCall
    line: Line
    announced: bool = False


_F = TypeVar("_F", bound=Callable[..., Any])


def tapi(name: str, via: str) -> Callable[[_F], _F]:
    """Mark a provider method as the TAPI function ``name``; ``via`` says how its first argument leads
    to the calling application (``app`` hLineApp, ``line`` hLine, ``call`` hCall).

    Every call goes through ``ProviderCore.enter``: the application's request count (``after_requests``)
    and the faults that hit a function (``reply_error`` on any function, ``lost_reply``,
    ``needed_size_grows``) live in that one place, so no function can be forgotten.
    """
    def decorate(fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(self: ProviderCore, *args: Any, **kwargs: Any) -> Any:
            app = self.app_of(via, args[0] if args else kwargs.get(next(iter(kwargs), ""), 0))
            self.enter(name, app)
            try:
                result = fn(self, *args, **kwargs)
            finally:
                self._injected = None
            return self.grown(name, result) if self._grows else result
        return cast(_F, wrapper)
    return decorate


class ProviderCore:
    """Plumbing of the provider: apps, lines, handles, requests, messages, sync functions."""

    def __init__(self, profile: Profile, clock: Clock | None = None) -> None:
        self.profile = profile
        self.clock = clock or VirtualClock()
        self.pbx = Pbx(profile, self.clock, self)
        self.devices: list[Device] = list(self.pbx.stations)
        for role in EXTERNAL_ROLES:
            dev = self.pbx.device(getattr(profile.pixit, role))
            if not dev.is_station and dev.line_id is None:
                self.devices.append(dev)
        for index, dev in enumerate(self.devices):
            dev.line_id = index
        self.apps: dict[int, App] = {}
        self.lines: dict[int, Line] = {}
        # open lines per device: the per-event fan-out must not scan every open line (P2 in BENCHMARKS.md).
        # The lists are replaced, never mutated, so a caller iterating one is safe against open/close.
        self._open: dict[Device, list[Line]] = {}
        self.handles: dict[int, Handle] = {}
        self._app_ids = itertools.count(0x00010001)
        self._line_ids = itertools.count(0x00020001)
        self._call_handles = itertools.count(0x00030001)
        self._request_ids = itertools.count(1)
        self._creating_for: App | None = None
        self._request_timers: dict[int, Timer] = {}
        # For a host that waits asynchronously (the bridge server): which application got a message,
        # at which device (number) a call changed state. Not TAPI; None costs one test per event.
        self.on_post: Callable[[int], None] | None = None
        self.on_call_state: Callable[[str], None] | None = None
        # (reply error or 0, reply lost) of the asynchronous request being made, from enter()
        self._injected: tuple[int, bool] | None = None
        faults = profile.simulation.faults
        self._grows = frozenset(f.function for f in faults if f.kind == "needed_size_grows")
        self._growth = 0
        self._from_start_out_of_service = any(f.kind == "out_of_service" and not f.after_requests for f in faults)

    # ----- plumbing -------------------------------------------------------------------------
    def post(self, app: App, msg: LineMsg, device: int, p1: int = 0, p2: int = 0, p3: int = 0, *,
             instance: int = 0, new_call: int = 0, data: bytes = b"") -> None:
        if app.handle not in self.apps:
            return
        app.queue.append(LineMessage(device=device, msg=msg, instance=instance, param1=int(p1) & 0xFFFFFFFF,
                                     param2=int(p2) & 0xFFFFFFFF, param3=int(p3) & 0xFFFFFFFF, new_call=new_call,
                                     data=data, time=self.clock.now()))
        if self.on_post is not None:
            self.on_post(app.handle)

    def app(self, h_line_app: int, function: str) -> App:
        app = self.apps.get(h_line_app)
        if app is None:
            raise LineError(LineErr.INVALAPPHANDLE, function, f"no application 0x{h_line_app:08X}")
        return app

    def line(self, h_line: int, function: str) -> Line:
        line = self.lines.get(h_line)
        if line is None:
            raise LineError(LineErr.INVALLINEHANDLE, function, f"no open line 0x{h_line:08X}")
        return line

    def handle(self, h_call: int, function: str, *, owner: bool = False, code: int = 0) -> Handle:
        h = self.handles.get(h_call)
        if h is None:
            raise LineError(code or LineErr.INVALCALLHANDLE, function, f"no call 0x{h_call:08X}")
        if owner and not h.call.handles.get(h_call, 0) & OWNER:
            raise LineError(LineErr.NOTOWNER, function, "the application is not an owner of the call")
        return h

    def device_for(self, device_id: int, function: str) -> Device:
        if not 0 <= device_id < len(self.devices):
            raise LineError(LineErr.BADDEVICEID, function, f"device {device_id} of {len(self.devices)}")
        return self.devices[device_id]

    def app_of(self, via: str, handle: Any) -> App | None:
        """The application behind the first argument of a TAPI function (None: a bad handle)."""
        if not isinstance(handle, int):
            return None
        if via == "app":
            return self.apps.get(handle)
        if via == "line":
            line = self.lines.get(handle)
            return line.app if line is not None else None
        h = self.handles.get(handle)
        return h.line.app if h is not None else None

    def enter(self, function: str, app: App | None) -> None:
        """Count the request and apply the faults that hit ``function`` on this call (see ``tapi``).

        ``after_requests`` counts every TAPI function an application calls, from its lineInitializeEx
        (request 1) on, except lineGetMessage and the queries (``UNCOUNTED_FUNCTIONS``), per
        application and identically on every backend (docs/profiles.md, "What is counted").
        """
        if app is None or app.harness:
            return
        app.calls[function] += 1
        occurrence = app.calls[function]
        if function not in UNCOUNTED_FUNCTIONS:
            app.requests += 1
            for fault in self.profile.simulation.faults:
                if fault.after_requests == app.requests:
                    self.clock.schedule(0.0, self._spontaneous, fault.kind, app)
        error = next((f.error for f in self.profile.simulation.faults
                      if f.kind == "reply_error" and f.function == function and f.fires(occurrence)), 0)
        lost = any(f.kind == "lost_reply" and f.function == function and f.fires(occurrence)
                   for f in self.profile.simulation.faults)
        if function not in ASYNC_FUNCTIONS:
            if error:
                raise LineError(error, function, "fault injected by the profile (simulation.faults)")
            return
        self._injected = (error, lost) if error or lost else None

    def grown(self, function: str, result: Any) -> Any:
        """needed_size_grows: each answer of ``function`` carries a longer variable part (dwNeededSize)."""
        if function not in self._grows or not dataclasses.is_dataclass(result) or isinstance(result, type):
            return result
        self._growth += 8
        return dataclasses.replace(result, dev_specific=getattr(result, "dev_specific", b"") + b"\0" * self._growth)

    def request(self, line: Line | None, app: App, function: str,
                work: Callable[[], tuple[int, Callable[[], None] | None, int, bytes]],
                *, existing_call: bool = True) -> int:
        """Queue an async request; ``work`` runs at the switch and returns (result, commit, hCall, data)."""
        req = next(self._request_ids)
        app.pending.add(req)
        if line is not None:
            line.pending.add(req)
        injected, self._injected = self._injected or (0, False), None
        self._request_timers[req] = self.clock.schedule(self._latency(function), self._run_request, req, line,
                                                        app, function, work, existing_call, injected)
        return req

    def _cancel_requests(self, requests: set[int], app: App) -> None:
        """lineClose / lineShutdown: the pending requests never get a LINE_REPLY, their timers go too."""
        for req in list(requests):
            app.pending.discard(req)
            timer = self._request_timers.pop(req, None)
            if timer is not None:
                timer.cancel()
        requests.clear()

    def _latency(self, function: str) -> float:
        latency = self.profile.simulation.timing.reply_latency
        for f in self.profile.simulation.faults:
            if f.kind == "reply_latency" and f.function in ("", function):
                latency = f.seconds
        return latency

    def _run_request(self, req: int, line: Line | None, app: App, function: str,
                     work: Callable[[], tuple[int, Callable[[], None] | None, int, bytes]],
                     existing_call: bool, injected: tuple[int, bool] = (0, False)) -> None:
        self._request_timers.pop(req, None)
        if req not in app.pending or (line is not None and req not in line.pending):
            return  # cancelled by lineClose / lineShutdown: no LINE_REPLY
        app.pending.discard(req)
        if line is not None:
            line.pending.discard(req)
        error, lost = injected
        if error:
            self.post(app, LineMsg.REPLY, 0, req, error)
            return
        try:
            result, commit, new_call, data = work()
        except LineError as exc:
            result, commit, new_call, data = exc.code, None, 0, b""
        sim = self.profile.simulation
        if existing_call:
            events_first = sim.reply_order == "events_first" or sim.fault("events_first") is not None
        else:   # a new call's LINE_CALLSTATE before the LINE_REPLY that gives its handle: a TAPI violation
            events_first = any(f.kind == "new_call_events_first" and f.function in ("", function)
                               for f in sim.faults)
        if events_first and commit is not None:
            commit()
            commit = None
        if not lost:
            # reply_without_call_handle: LINE_REPLY 0 but lphCall / lphConsultCall never written. The call
            # is made all the same and keeps its handle, whose LINE_CALLSTATEs reach the application
            # (a handle it was never given); only the reply does not name it.
            shown = 0 if not app.harness and sim.fault("reply_without_call_handle", function=function) else new_call
            self.post(app, LineMsg.REPLY, 0, req, result, new_call=shown, data=data)
        elif new_call:
            # TAPI delivers nothing for a new call before its reply; with the reply lost the application
            # never learns the handle, so none of the call's events may reach it either.
            self._forget_handle(new_call)
        if commit is not None:
            commit()

    def _forget_handle(self, h_call: int) -> None:
        handle = self.handles.pop(h_call, None)
        if handle is not None:
            handle.call.handles.pop(h_call, None)
            handle.line.call_handles.discard(h_call)

    def new_handle(self, call: LineCall, line: Line, privilege: int) -> int:
        h = next(self._call_handles)
        call.handles[h] = privilege
        self.handles[h] = Handle(call, line)
        line.call_handles.add(h)
        return h

    def open_lines(self, device: Device) -> list[Line]:
        return self._open.get(device, [])

    # ----- SwitchObserver --------------------------------------------------------------------
    def call_created(self, call: LineCall) -> None:
        owner_given = False
        # incoming_calls_unreported: the TSP reports only the calls the application makes; a call that
        # comes in gets no handle on its lines (no LINE_APPNEWCALL, no LINE_CALLSTATE) while the set rings
        unreported = not call.outgoing and self.profile.simulation.fault("incoming_calls_unreported") is not None
        for line in self.open_lines(call.device):
            if line.app is self._creating_for or (unreported and not line.app.harness):
                continue
            if not call.outgoing and line.privileges & OWNER and not owner_given:
                self.new_handle(call, line, OWNER)
                owner_given = True
                if self.profile.simulation.fault("duplicate_call_handle") is not None and not line.app.harness:
                    self.new_handle(call, line, MONITOR)   # the same call, reported under a second handle
            elif line.privileges & MONITOR:
                self.new_handle(call, line, MONITOR)

    def call_state(self, call: LineCall, old: str, new: str) -> None:
        state = _STATE_VALUE[call.state_name]
        for h_call, privilege in list(call.handles.items()):
            handle = self.handles.get(h_call)
            if handle is None:
                continue
            app, line = handle.line.app, handle.line
            p3 = 0
            if not handle.announced:
                handle.announced = True
                if privilege != OWNER or not call.outgoing:
                    p3 = privilege
                    if app.api_version >= ApiVersion.V2_0:
                        self.post(app, LineMsg.APPNEWCALL, line.handle, 0, h_call, privilege,
                                  instance=line.instance)
            self.post(app, LineMsg.CALLSTATE, h_call, state, call.mode, p3, instance=line.instance)
        self._line_events(call, new)
        if self.on_call_state is not None:
            self.on_call_state(call.device.number)

    def _line_events(self, call: LineCall, new: str) -> None:
        bits = _DEV_STATE_BITS.get(new)
        numcalls = new in _NUMCALLS_STATES
        for line in self.open_lines(call.device):
            if bits is not None and line.line_states & bits:
                p2, p3 = (1, 1) if bits == LineDevState.RINGING else (0, 0)
                self.post(line.app, LineMsg.LINEDEVSTATE, line.handle, bits, p2, p3, instance=line.instance)
            if numcalls and line.address_states & _NUMCALLS:
                self.post(line.app, LineMsg.ADDRESSSTATE, line.handle, 0, _NUMCALLS,
                          instance=line.instance)

    def call_info(self, call: LineCall, bits: int) -> None:
        if not call.live:
            return
        for h_call, handle in [(h, self.handles.get(h)) for h in call.handles]:
            if handle is not None and handle.announced:
                self.post(handle.line.app, LineMsg.CALLINFO, h_call, bits, instance=handle.line.instance)

    def line_owned(self, device: Device) -> bool:
        return any(ln.privileges & OWNER for ln in self.open_lines(device))

    def address_changed(self, device: Device, bits: int) -> None:
        for line in self.open_lines(device):
            if line.address_states & bits:
                self.post(line.app, LineMsg.ADDRESSSTATE, line.handle, 0, bits, instance=line.instance)

    # ----- spontaneous events (fault knobs) --------------------------------------------------
    def _spontaneous(self, kind: str, app: App) -> None:
        """A fault that fires after the application's Nth request: it hits that application's lines."""
        if app.handle not in self.apps:
            return
        if kind == "line_close":
            for line in list(app.lines.values()):
                self.post(line.app, LineMsg.CLOSE, line.handle, instance=line.instance)
                self._close(line)
        elif kind == "out_of_service":
            for line in app.lines.values():
                self._out_of_service(line)
        elif kind == "reinit":   # the provider reinitialises: every application is told (MS docs "LINE_LINEDEVSTATE")
            for other in self.apps.values():
                self.post(other, LineMsg.LINEDEVSTATE, 0, LineDevState.REINIT)

    def _out_of_service(self, line: Line) -> None:
        line.in_service = False
        if line.line_states & LineDevState.OUTOFSERVICE:
            self.post(line.app, LineMsg.LINEDEVSTATE, line.handle, LineDevState.OUTOFSERVICE,
                      instance=line.instance)

    # ----- initialization and lines ----------------------------------------------------------
    def line_initialize_ex(self, app_name: str, api_version: int = ApiVersion.V2_2) -> tuple[int, int, int]:
        if api_version < MIN_API:
            raise LineError(LineErr.INCOMPATIBLEAPIVERSION, "lineInitializeEx", f"0x{api_version:08X}")
        app = App(next(self._app_ids), app_name or "python", api_version)
        self.enter("lineInitializeEx", app)   # request 1 of the new application (before it exists)
        handle = app.handle
        self.apps[handle] = app
        return handle, len(self.devices), int(min(MAX_API, self.profile.simulation.api_version))

    @tapi("lineShutdown", "app")
    def line_shutdown(self, h_line_app: int) -> None:
        app = self.app(h_line_app, "lineShutdown")
        for line in list(app.lines.values()):
            self._close(line)
        self._cancel_requests(app.pending, app)
        app.queue.clear()
        del self.apps[h_line_app]

    @tapi("lineNegotiateAPIVersion", "app")
    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int:
        self.app(h_line_app, "lineNegotiateAPIVersion")
        self.device_for(device_id, "lineNegotiateAPIVersion")
        best = min(high, self.profile.simulation.api_version, MAX_API)
        if low > high or best < max(low, MIN_API):
            raise LineError(LineErr.INCOMPATIBLEAPIVERSION, "lineNegotiateAPIVersion",
                            f"asked 0x{low:08X}..0x{high:08X}, provider supports up to "
                            f"0x{self.profile.simulation.api_version:08X}")
        return int(best)

    @tapi("lineNegotiateExtVersion", "app")
    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int,
                                   low: int, high: int) -> int:
        self.app(h_line_app, "lineNegotiateExtVersion")
        self.device_for(device_id, "lineNegotiateExtVersion")
        native = self.profile.capabilities.native_remote_office
        if native.mechanism != "devspecific":
            raise LineError(LineErr.OPERATIONUNAVAIL, "lineNegotiateExtVersion", "no provider extension")
        if not low <= native.ext_version <= high:
            raise LineError(LineErr.INCOMPATIBLEEXTVERSION, "lineNegotiateExtVersion",
                            f"provider extension is 0x{native.ext_version:08X}")
        return native.ext_version

    def _check_version(self, api_version: int, function: str) -> None:
        if not MIN_API <= api_version <= min(MAX_API, self.profile.simulation.api_version):
            raise LineError(LineErr.INCOMPATIBLEAPIVERSION, function, f"0x{api_version:08X}")

    @tapi("lineGetDevCaps", "app")
    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps:
        self.app(h_line_app, "lineGetDevCaps")
        dev = self.device_for(device_id, "lineGetDevCaps")
        self._check_version(api_version, "lineGetDevCaps")
        return _caps.dev_caps(self.profile, dev, device_id, dev.native_ro)

    @tapi("lineGetAddressCaps", "app")
    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps:
        self.app(h_line_app, "lineGetAddressCaps")
        dev = self.device_for(device_id, "lineGetAddressCaps")
        self._check_version(api_version, "lineGetAddressCaps")
        if address_id != 0:
            raise LineError(LineErr.INVALADDRESSID, "lineGetAddressCaps", f"address {address_id} of 1")
        return _caps.address_caps(self.profile, dev, device_id)

    @tapi("lineOpen", "app")
    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = OWNER | MONITOR,
                  media_modes: int = int(LineMediaMode.INTERACTIVEVOICE)) -> int:
        app = self.app(h_line_app, "lineOpen")
        dev = self.device_for(device_id, "lineOpen")
        self._check_version(api_version, "lineOpen")
        privs = privileges & 0x7
        if privs not in (NONE, MONITOR, OWNER, OWNER | MONITOR) or privileges & ~_OPEN_BITS:
            raise LineError(LineErr.INVALPRIVSELECT, "lineOpen", f"privileges 0x{privileges:08X}")
        if privs & OWNER and not media_modes:
            raise LineError(LineErr.INVALMEDIAMODE, "lineOpen", "OWNER needs a media mode")
        if ext_version:
            native = self.profile.capabilities.native_remote_office
            if native.mechanism != "devspecific" or ext_version != native.ext_version:
                raise LineError(LineErr.INCOMPATIBLEEXTVERSION, "lineOpen", f"0x{ext_version:08X}")
        handle = next(self._line_ids)
        line = Line(handle, app, device_id, dev, api_version, ext_version, callback_instance, privs,
                    media_modes)
        self.lines[handle] = line
        self._open[dev] = [*self._open.get(dev, ()), line]
        app.lines[handle] = line
        if self._from_start_out_of_service and not app.harness:
            line.in_service = False   # out of service from the start: lineMakeCall fails INVALLINESTATE
        if ext_version and self.pbx.fault("devspecific_on_open") is not None:
            # the PBX reports its native RO state as soon as the line is opened with the extension version:
            # an application must not take this event for the answer to a later activation
            self.post(app, LineMsg.DEVSPECIFIC, handle, self.profile.capabilities.native_remote_office.event_param1,
                      1 if dev.native_ro else 0, instance=callback_instance)
        return handle

    @tapi("lineClose", "line")
    def line_close(self, h_line: int) -> None:
        self._close(self.line(h_line, "lineClose"))

    def _close(self, line: Line) -> None:
        """Calls this app solely owns are dropped; pending requests get no reply; handles die."""
        for h_call in sorted(line.call_handles):
            call = self.handles.pop(h_call).call
            privilege = call.handles.pop(h_call, 0)
            sole = privilege & OWNER and not call.has_owner
            if call.live and sole:
                self.pbx.drop(call)
            self.pbx.release_model(call)
        line.call_handles.clear()
        self._cancel_requests(line.pending, line.app)
        self.lines.pop(line.handle, None)
        left = [ln for ln in self._open.get(line.device, ()) if ln is not line]
        if left:
            self._open[line.device] = left
        else:
            self._open.pop(line.device, None)
        line.app.lines.pop(line.handle, None)

    @tapi("lineSetStatusMessages", "line")
    def line_set_status_messages(self, h_line: int, line_states: int, address_states: int) -> None:
        line = self.line(h_line, "lineSetStatusMessages")
        if line_states & ~_caps.LINE_STATES:
            raise LineError(LineErr.INVALLINESTATE, "lineSetStatusMessages", f"0x{line_states:08X}")
        if address_states & ~_caps.ADDRESS_STATES:
            raise LineError(LineErr.INVALADDRESSSTATE, "lineSetStatusMessages", f"0x{address_states:08X}")
        line.line_states = int(line_states | LineDevState.REINIT)   # int, not IntFlag: see _DEV_STATE_BITS
        line.address_states = int(address_states)

    @tapi("lineGetMessage", "app")
    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None:
        app = self.app(h_line_app, "lineGetMessage")
        if not app.queue:
            self.clock.run_until(lambda: bool(app.queue) or h_line_app not in self.apps, max(0.0, timeout))
        return app.queue.popleft() if app.queue else None

    # ----- queries -----------------------------------------------------------------------------
    @tapi("lineGetAddressStatus", "line")
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        line = self.line(h_line, "lineGetAddressStatus")
        if address_id != 0:
            raise LineError(LineErr.INVALADDRESSID, "lineGetAddressStatus", f"address {address_id} of 1")
        return self.address_status(line.device)

    @tapi("lineGetLineDevStatus", "line")
    def line_get_line_dev_status(self, h_line: int) -> LineDevStatus:
        """lineGetLineDevStatus (sync): the open line device's state now (LINEDEVSTATUS).

        The provider always reaches its switch (LINEDEVSTATUSFLAGS_CONNECTED); INSERVICE is cleared while
        the line is out of service (the ``out_of_service`` fault), and then no new call can be made on it,
        so LINEFEATURE_MAKECALL and dwAvailableMediaModes go too. dwNumOpens / dwOpenMediaModes are what
        TAPI itself fills on Windows: here, the open lines of the device and the media modes their owners
        registered. Source: docs/tapi.md §2.9 and
        https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-linegetlinedevstatus
        """
        line = self.line(h_line, "lineGetLineDevStatus")
        dev = line.device
        caps = _caps.dev_caps(self.profile, dev, line.device_id, dev.native_ro)
        address = self.address_status(dev)
        opened = self.open_lines(dev)
        flags = int(LineDevStatusFlags.CONNECTED) | (int(LineDevStatusFlags.INSERVICE) if line.in_service else 0)
        features = caps.line_features if line.in_service else caps.line_features & ~int(LineFeature.MAKECALL)
        return LineDevStatus(
            num_opens=len(opened),
            open_media_modes=functools.reduce(lambda a, b: a | b, (ln.media_modes for ln in opened
                                                                   if ln.privileges & OWNER), 0),
            num_active_calls=address.num_active_calls, num_on_hold_calls=address.num_on_hold_calls,
            num_on_hold_pend_calls=address.num_on_hold_pend_calls, line_features=int(features),
            signal_level=0xFFFF, battery_level=0xFFFF, roam_mode=int(LineRoamMode.UNAVAIL),
            dev_status_flags=flags,
            available_media_modes=caps.media_modes if features & LineFeature.MAKECALL else 0)

    @tapi("lineGetCallInfo", "call")
    def line_get_call_info(self, h_call: int) -> LineCallInfo:
        h = self.handle(h_call, "lineGetCallInfo")
        return self.call_info_of(h.call, h.line, h_call)

    @tapi("lineGetCallStatus", "call")
    def line_get_call_status(self, h_call: int) -> LineCallStatus:
        h = self.handle(h_call, "lineGetCallStatus")
        privilege = h.call.handles.get(h_call, 0)
        features, features2 = _caps.call_features(self.profile, h.call, privilege)
        for fault in self.profile.simulation.faults:
            if fault.kind == "call_status_omit":   # lineGetCallStatus only; LINEADDRESSCAPS keeps them
                features &= ~fault.features
        return LineCallStatus(call_state=int(h.call.state), call_state_mode=h.call.mode,
                              call_privilege=privilege, call_features=features, call_features2=features2,
                              state_entry_time=h.call.entered_at)

    @tapi("lineDeallocateCall", "call")
    def line_deallocate_call(self, h_call: int) -> None:
        h = self.handle(h_call, "lineDeallocateCall")
        call = h.call
        privilege = call.handles.pop(h_call, 0)
        del self.handles[h_call]
        h.line.call_handles.discard(h_call)
        if call.live and privilege & OWNER and h.line.api_version < ApiVersion.V2_0 and not call.has_owner:
            call.handles[h_call] = privilege
            self.handles[h_call] = h
            h.line.call_handles.add(h_call)
            raise LineError(LineErr.INVALCALLSTATE, "lineDeallocateCall", "sole owner of a live call")
        if call.state_name == "DISCONNECTED" and not call.has_owner:
            self.pbx.drop(call)   # nobody is left who could lineDrop it: the switch clears it
        self.pbx.release_model(call)

    @tapi("lineSetCallPrivilege", "call")
    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        """lineSetCallPrivilege (sync): this handle becomes OWNER or MONITOR of its call.

        ``privilege`` is exactly one of LINECALLPRIVILEGE_OWNER / _MONITOR, else LINEERR_INVALCALLPRIVILEGE;
        an unknown handle is LINEERR_INVALCALLHANDLE; the sole owner of a non-idle call cannot step down to
        MONITOR (LINEERR_INVALCALLSTATE: it would leave a live call nobody can clear). A change in the
        number of owners or monitors is reported to the call's handles as LINE_CALLINFO
        (NUMOWNERINCR / NUMOWNERDECR, NUMMONITORS). Source: docs/tapi.md §3 and
        https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-linesetcallprivilege
        """
        fn = "lineSetCallPrivilege"
        h = self.handle(h_call, fn)
        if privilege not in (OWNER, MONITOR):
            raise LineError(LineErr.INVALCALLPRIVILEGE, fn, f"0x{privilege:08X}: one of OWNER, MONITOR")
        call = h.call
        before = call.handles.get(h_call, 0)
        if before == privilege:
            return
        others_own = any(p & OWNER for other, p in call.handles.items() if other != h_call)
        if before & OWNER and privilege == MONITOR and call.live and not others_own:
            raise LineError(LineErr.INVALCALLSTATE, fn, "sole owner of a non-idle call: lineDrop it first")
        call.handles[h_call] = int(privilege)
        owners = LineCallInfoState.NUMOWNERINCR if privilege == OWNER else LineCallInfoState.NUMOWNERDECR
        self.call_info(call, int(owners | LineCallInfoState.NUMMONITORS))

    def address_status(self, device: Device) -> LineAddressStatus:
        raise NotImplementedError

    def call_info_of(self, call: LineCall, line: Line, h_call: int) -> LineCallInfo:
        raise NotImplementedError

    # ----- introspection (tests, leak checks; not TAPI) ----------------------------------------
    def live_calls(self) -> list[LineCall]:
        return [c for d in self.pbx.devices.values() for c in d.calls if c.live]

    def stray_timers(self) -> list[str]:
        """Scheduled timers that belong to something gone: a dead call or a cancelled request."""
        stray = []
        for timer in self.clock.active_timers():
            if timer.callback == self.pbx._guarded and not timer.args[0].live:
                stray.append(f"{timer.args[1]} for dead {timer.args[0]!r} at {timer.due}")
            elif timer.callback == self._run_request and timer.args[0] not in timer.args[2].pending:
                stray.append(f"reply of request {timer.args[0]} ({timer.args[3]}) at {timer.due}")
        return stray

    def model_count(self) -> int:
        return self.pbx.machine.model_count()

    def role_device(self, role: str) -> Device:
        return self.pbx.device(getattr(self.profile.pixit, role))

    def info(self) -> dict[str, Any]:
        return {"provider": "RO simulator TSP", "profile": self.profile.name, "vendor": self.profile.vendor,
                "devices": [d.number for d in self.devices], "trunks": self.pbx.trunks_total}
