"""Party control through TAPI lines only: the PIXIT's other lines play the parties around the desk.

On a real PBX the vendor's PIXIT names (``pixit.party_lines``: role -> TAPI line name) the lines that play
the Remote Office phone, the target and the caller; on the simulator behind the emulated DLL these are
its extra "Party line <number>" devices. A line matches a role when its LINEDEVCAPS line name equals or
contains the PIXIT's line name, or else contains the role's number as a whole number. A role whose line
appears later (LINE_CREATE) is matched then; a line that goes (LINE_CLOSE, LINE_REMOVE) leaves its role
to the operator.

* remote_office / target: opened OWNER|MONITOR with the role's media modes
  (``pixit.party_line_options.<role>.media_modes``, default INTERACTIVEVOICE; a Cisco CTI port wants
  AUTOMATEDVOICE|INTERACTIVEVOICE). An OFFERING call is answered automatically after its LINECALLINFO
  was read (caller ID and its flags, ``dwReason``, RedirectingID), with lineAccept first when the role's
  options say ``accept: true`` or the address has LINEADDRCAPFLAGS_ACCEPTTOALERT. ``set_auto_answer``
  turns that off for a role. The answer comes after the ringing the profile gives that party
  (``answer_after_rings`` x ``simulation.timing.ring_period``, ``answer_delays``), as on the simulator.
* Ownership (docs/tapi.md §3, §7): the privilege of each new call is read from LINE_APPNEWCALL /
  LINE_CALLSTATE ``dwParam3``. If another application owns the call (we got MONITOR), the party asks
  for it with lineSetCallPrivilege(OWNER); if TAPI refuses, the role is "not owner" and every wait on it
  ends at once with ``LineError(LINEERR_NOTOWNER)`` that says so - never a silent timeout.
* caller: ``call(role, number)`` is lineMakeCall from the caller's line, hands-free
  (LINECALLPARAMS with LINECALLPARAMFLAGS_ORIGOFFHOOK | LINECALLPARAMFLAGS_IDLE), to a *dialable*
  string: a canonical ``+49...`` number goes through lineTranslateAddressW (the machine's dialling
  location), or through the PIXIT dial form ``dial_prefix + "00" + digits`` when the role's options set
  ``dial_prefix`` or when the translation fails.
* desk: opened MONITOR only (the application under test must own it); observed, never acted on.
* answer / reject / hang_up = lineAnswer / lineDrop on the role's current call. A far end that leaves
  (DISCONNECTED) is dropped and the handle deallocated at IDLE, as a phone would.
* Caller IDs honour their flags (``presentation_of``): a BLOCKED caller is "withheld" even if a TSP
  sends digits, OUTOFAREA / UNAVAIL are "unavailable", a NAME without a valid ADDRESS is "name_only"
  (the name is kept as ``presented_name``), no flag is "unknown".

A role without a line (a real PBX without spare lines, or any action on the desk set) falls back to the
operator (``_operator``): a bounded prompt, and for a wait also "what number does it show?". Nobody
answering makes the wait return ``None``, which the suite reports as inconclusive. Messages of the party
lines arrive on the adapter's message thread of this helper application (``app_listener``).

This module does not import the adapter: it drives any ``PartyLineHost``.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from conformance._operator import Operator, default_operator
from conformance.backend import OWNER_MONITOR, PartyView
from simulator._constants import (
    ApiVersion,
    LineAddrCapFlags,
    LineCallOrigin,
    LineCallParamFlags,
    LineCallPartyId,
    LineCallPrivilege,
    LineCallState,
    LineDevState,
    LineErr,
    LineMediaMode,
    LineMsg,
)
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._partyview import PARTY_STATE_OF, ROLES, Presentation, current_call, presentation_of
from simulator._profile_model import Pixit, Profile
from simulator._structs import LineAddressCaps, LineAddressStatus, LineCallInfo, LineCallParams, LineDevCaps

__all__ = ["ROLES", "PartyLineHost", "Tapi32Parties", "answer_delays", "media_modes_of"]

AUTO_ANSWER: Final = frozenset({"remote_office", "target"})
OWNER: Final = int(LineCallPrivilege.OWNER)
MONITOR: Final = int(LineCallPrivilege.MONITOR)
HANDS_FREE: Final = int(LineCallParamFlags.ORIGOFFHOOK | LineCallParamFlags.IDLE)
INTERACTIVEVOICE: Final = int(LineMediaMode.INTERACTIVEVOICE)
_S = LineCallState


class PartyLineHost(Protocol):
    """What party control needs of the adapter (``Tapi32Backend`` is one)."""

    request_lock: Any

    def app_listener(self, app_name: str, listener: Callable[[LineMessage], None],
                     api_version: int = ...) -> tuple[int, int, int]: ...
    def line_shutdown(self, h_line_app: int) -> None: ...
    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int: ...
    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps: ...
    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps: ...
    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = ..., media_modes: int = ...) -> int: ...
    def line_translate_address(self, h_line_app: int, device_id: int, api_version: int, address: str) -> str: ...
    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int: ...
    def line_accept(self, h_call: int) -> int: ...
    def line_answer(self, h_call: int) -> int: ...
    def line_drop(self, h_call: int) -> int: ...
    def line_set_call_privilege(self, h_call: int, privilege: int) -> None: ...
    def line_get_call_info(self, h_call: int) -> LineCallInfo: ...
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus: ...
    def line_deallocate_call(self, h_call: int) -> None: ...
    def wait_until(self, done: Callable[[], bool], timeout: float) -> bool: ...


def answer_delays(profile: Profile) -> dict[str, float]:
    """Role -> seconds its party lets a call ring before answering: what the profile says the party does
    (``externals[].answer_after_rings`` x ``simulation.timing.ring_period``, or ``default_external``), for
    the auto-answering roles; ``math.inf`` for a party that never picks up (``no_answer``, ``busy``,
    ``reject``: a party line can only let the call ring, so a rejecting party is played as one that does
    not answer)."""
    delays = {}
    for role in AUTO_ANSWER:
        number = str(getattr(profile.pixit, role))
        party = next((e for e in profile.externals if e.number == number), profile.default_external)
        delays[role] = max(party.answer_after_rings, 0) * profile.simulation.timing.ring_period \
            if party.behaviour == "answer" else math.inf
    return delays


def media_modes_of(options: Mapping[str, Any]) -> int:
    """The LINEMEDIAMODE mask of a role's ``media_modes`` option (names); INTERACTIVEVOICE without one."""
    names = options.get("media_modes") or ["INTERACTIVEVOICE"]
    mask = 0
    for name in names:
        try:
            mask |= LineMediaMode[str(name).upper()]
        except KeyError:
            raise TapiError(f"pixit.party_line_options: unknown media mode {name!r} "
                            f"(use LINEMEDIAMODE_ names such as AUTOMATEDVOICE)") from None
    return int(mask)


@dataclass
class _Call:
    handle: int
    state: int = 0
    outgoing: bool = False
    privilege: int = 0              # LINECALLPRIVILEGE_* of our handle, 0 = not told (we opened OWNER)
    info: LineCallInfo | None = None


@dataclass
class _Role:
    name: str
    number: str
    options: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0
    device: int = -1
    version: int = 0
    line_name: str = ""
    auto_answer: bool = False
    accept: bool = False            # lineAccept before lineAnswer (PIXIT option or LINEADDRCAPFLAGS_ACCEPTTOALERT)
    owner: bool = True
    not_owner: str = ""             # why we could not own the role's offered call ("" = no problem)
    calls: dict[int, _Call] = field(default_factory=dict)


# What an action on a party call may get back once close() has shut the party application down.
_GONE_AT_SHUTDOWN: Final = frozenset({LineErr.INVALCALLHANDLE, LineErr.INVALLINEHANDLE, LineErr.INVALAPPHANDLE,
                                      LineErr.UNINITIALIZED})


class Tapi32Parties:
    """``PartyControl`` over the PIXIT's party lines (see the module docstring)."""

    def __init__(self, backend: PartyLineHost, pixit: Pixit | None, operator: Operator | None = None,
                 answer_delays: Mapping[str, float] | None = None) -> None:
        self._backend = backend
        # role -> seconds an auto-answering party lets its call ring first (the profile's answer_after_rings
        # x ring_period, as the simulated party waits): answering at once would win every race the PBX's
        # timers run against the party (a recall, a transfer while ringing) where the real party loses it.
        self._answer_delays = dict(answer_delays or {})
        self._pixit = pixit
        self.operator = operator or default_operator()
        self._lock = threading.RLock()
        self._roles: dict[str, _Role] = {}
        self._requests: dict[int, str] = {}         # our lineMakeCall request id -> role
        self._accepting: dict[int, int] = {}        # our lineAccept request id -> hCall to answer
        self._app = 0
        self.errors: list[str] = []
        self.notes: list[str] = []                  # what happened that is not an error (REINIT, ...)

    # ----- set-up ---------------------------------------------------------------------------
    def open(self) -> None:
        """Find and open the party lines (idempotent). Roles without a line stay operator-only."""
        if self._app or self._pixit is None:
            return
        pixit = self._pixit
        for name in ROLES:
            options = pixit.party_line_options.get(name, {})
            media_modes_of(options)                 # a bad name is an error now, not at the first call
            self._roles[name] = _Role(name, getattr(pixit, name), options, auto_answer=name in AUTO_ANSWER,
                                      owner=name != "desk")
        self._app, num_devs, _ = self._backend.app_listener("RO conformance parties", self._on_message)
        for device in range(num_devs):
            self._try_device(device)

    def _try_device(self, device: int) -> None:
        """Give ``device`` to the first role without a line whose PIXIT line name (or number) it has."""
        try:
            version = self._backend.line_negotiate_api_version(self._app, device, ApiVersion.V1_3, ApiVersion.V2_2)
            line_name = self._backend.line_get_dev_caps(self._app, device, version).line_name
        except LineError:
            return                              # a device that will not talk to us plays no role
        assert self._pixit is not None
        for index, role in enumerate(self._roles.values()):
            if role.line or not _matches(line_name, self._pixit.party_lines.get(role.name, ""), role.number):
                continue
            privileges = OWNER_MONITOR if role.owner else MONITOR
            try:
                role.line = self._backend.line_open(self._app, device, version, 0, index + 1, privileges,
                                                    media_modes_of(role.options))
            except LineError as exc:
                self.notes.append(f"{role.name}: lineOpen of device {device} ({line_name!r}) failed: {exc}")
                return
            role.device, role.version, role.line_name = device, version, line_name
            role.accept = bool(role.options.get("accept")) or self._accept_to_alert(device, version)
            return

    def _accept_to_alert(self, device: int, version: int) -> bool:
        """The address says an offered call must be accepted before it alerts (docs/tapi.md §8.1)."""
        try:
            caps = self._backend.line_get_address_caps(self._app, device, 0, version)
        except LineError:
            return False
        return bool(caps.addr_cap_flags & LineAddrCapFlags.ACCEPTTOALERT)

    def close(self) -> None:
        if self._app:
            app, self._app = self._app, 0
            with contextlib.suppress(LineError):
                self._backend.line_shutdown(app)       # the adapter closes the lines first

    def describe(self) -> dict[str, str]:
        return {r.name: r.line_name or "(operator)" for r in self._roles.values()}

    def how(self, role: str) -> str:
        """How ``role`` is observed: "party line 'NAME'", "operator" or "none" (nobody can answer).

        The desk is only monitored on its line; what must happen at the set itself needs the operator.
        """
        r = self._role(role)
        person = "operator" if self.operator.available() else "none"
        if r.line and r.owner:
            return f"party line {r.line_name!r}"
        if r.line:
            return f"monitored on {r.line_name!r}; actions at the set: {person}"
        return person

    def set_auto_answer(self, role: str, on: bool) -> None:
        self._role(role).auto_answer = on

    def _role(self, role: str) -> _Role:
        if role not in self._roles:
            raise TapiError(f"unknown party {role!r}: use one of {', '.join(ROLES)}")
        return self._roles[role]

    # ----- messages of the party lines (on the helper's message thread) -----------------------
    def _on_message(self, message: LineMessage) -> None:
        if message.msg == LineMsg.REPLY:
            self._reply(message)
        elif message.msg == LineMsg.APPNEWCALL:
            role = self._by_line(message.device)
            if role is not None:
                with self._lock:
                    call = role.calls.setdefault(message.param2, _Call(message.param2))
                    call.privilege = message.param3 or call.privilege
        elif message.msg == LineMsg.CALLSTATE:
            self._call_state(message)
        elif message.msg == LineMsg.CALLINFO:
            self._refresh(message.device)
        elif message.msg in (LineMsg.CLOSE, LineMsg.REMOVE):
            gone = (self._by_line(message.device) if message.msg == LineMsg.CLOSE
                    else next((r for r in self._roles.values() if r.line and r.device == message.param1), None))
            if gone is not None:
                with self._lock:
                    gone.line, gone.calls = 0, {}
                self.notes.append(f"{gone.name}: line {gone.line_name!r} is gone ({LineMsg(message.msg).name})")
        elif message.msg == LineMsg.CREATE:
            self._try_device(message.param1)
        elif message.msg == LineMsg.LINEDEVSTATE and message.param1 & LineDevState.REINIT:
            self.notes.append("the provider asked for re-initialisation (LINEDEVSTATE_REINIT)")

    def _reply(self, message: LineMessage) -> None:
        with self._lock:
            name = self._requests.pop(message.request_id, None)
            answer_next = self._accepting.pop(message.request_id, 0)
            if name is not None and message.new_call:
                self._roles[name].calls.setdefault(message.new_call, _Call(message.new_call, outgoing=True,
                                                                            privilege=OWNER))
        if answer_next:
            if message.result != 0:      # a TSP that does not need lineAccept may refuse it: answer anyway
                self.notes.append(f"lineAccept of 0x{answer_next:08X} was answered {message.error}")
            self._quietly(self._backend.line_answer, answer_next)

    def _by_line(self, h_line: int) -> _Role | None:
        return next((r for r in self._roles.values() if r.line and r.line == h_line), None)

    def _by_call(self, h_call: int, instance: int) -> _Role | None:
        role = next((r for r in self._roles.values() if h_call in r.calls), None)
        if role is None and 1 <= instance <= len(ROLES):
            role = self._roles.get(ROLES[instance - 1])     # first LINE_CALLSTATE of a call (§13)
        return role

    def _call_state(self, message: LineMessage) -> None:
        h_call, state = message.device, message.param1
        role = self._by_call(h_call, message.instance)
        if role is None:
            return
        with self._lock:
            call = role.calls.setdefault(h_call, _Call(h_call))
            call.state = state
            if message.param3:                   # dwParam3: our privilege, on a call new to us (§7)
                call.privilege = message.param3
        if state == _S.IDLE:
            with self._lock:
                role.calls.pop(h_call, None)
            self._quietly(self._backend.line_deallocate_call, h_call)
            return
        if state in (_S.OFFERING, _S.CONNECTED):
            self._refresh(h_call)
        if state == _S.OFFERING and role.owner:
            if not self._own(role, call):
                return
            role.not_owner = ""
            if role.auto_answer:
                delay = self._answer_delays.get(role.name, 0.0)
                call_later = getattr(self._backend, "call_later", None)
                if delay == math.inf:
                    return      # the profile's party does not answer: the call rings until the PBX gives up
                if delay > 0 and call_later is not None:
                    call_later(delay, lambda: self._pick_up_if_ringing(role, h_call))
                else:
                    self._pick_up(role, h_call)
        elif state == _S.DISCONNECTED and role.owner and self._owns(call):
            self._quietly(self._backend.line_drop, h_call)      # the far end left: hang up

    @staticmethod
    def _owns(call: _Call) -> bool:
        return not call.privilege or bool(call.privilege & OWNER)

    def _own(self, role: _Role, call: _Call) -> bool:
        """Make sure we own ``call``: lineSetCallPrivilege(OWNER) if another application does."""
        if self._owns(call):
            return True
        try:
            self._backend.line_set_call_privilege(call.handle, OWNER)
        except LineError as exc:
            role.not_owner = (f"{role.name}: the call 0x{call.handle:08X} offered on {role.line_name!r} is owned "
                              f"by another application (we are MONITOR) and lineSetCallPrivilege(OWNER) was "
                              f"refused {exc.name}: not owner")
            return False
        call.privilege = OWNER
        return True

    def _pick_up_if_ringing(self, role: _Role, h_call: int) -> None:
        """The delayed auto-answer: only if the call still rings here and auto-answer is still on."""
        with self._lock:
            call = role.calls.get(h_call)
            ringing = call is not None and call.state in (_S.OFFERING, _S.ACCEPTED)
        if ringing and role.auto_answer:
            self._pick_up(role, h_call)

    def _pick_up(self, role: _Role, h_call: int) -> None:
        """lineAnswer, after lineAccept when the line needs it (then on the accept's LINE_REPLY)."""
        if not role.accept:
            self._quietly(self._backend.line_answer, h_call)
            return
        with self._backend.request_lock:
            try:
                request = self._backend.line_accept(h_call)
            except LineError as exc:
                self.notes.append(f"{role.name}: lineAccept refused {exc.name}; answering anyway")
                self._quietly(self._backend.line_answer, h_call)
                return
            with self._lock:
                self._accepting[request] = h_call

    def _refresh(self, h_call: int) -> None:
        role = self._by_call(h_call, 0)
        if role is None:
            return
        try:
            info = self._backend.line_get_call_info(h_call)
        except LineError:
            return                              # already gone; the IDLE state will tidy up
        with self._lock:
            call = role.calls.get(h_call)
            if call is not None:
                call.info = info
                call.outgoing = call.outgoing or bool(info.origin & LineCallOrigin.OUTBOUND)

    def _quietly(self, action: Callable[[int], Any], h_call: int) -> None:
        try:
            action(h_call)
        except LineError as exc:
            if not self._app and exc.code in _GONE_AT_SHUTDOWN:
                # close() ran while our message thread was acting on a message it had already taken:
                # lineShutdown closed the lines and freed their calls first (the handle is gone, not wrong).
                self.notes.append(f"{exc} (after lineShutdown of the party lines)")
                return
            self.errors.append(str(exc))

    # ----- PartyControl -----------------------------------------------------------------------
    def _current(self, role: _Role) -> _Call | None:
        with self._lock:
            live = [c for c in role.calls.values() if c.state not in (0, _S.IDLE, _S.DISCONNECTED)]
        return current_call(live, lambda c: c.state)

    def _act(self, role_name: str, states: tuple[int, ...], action: Callable[[int], Any], what: str) -> None:
        role = self._role(role_name)
        if not role.line or not role.owner:
            self.operator.confirm(f"{what} at {role_name} ({role.number})", self._timeout())
            return
        with self._lock:
            calls = [c for c in role.calls.values() if c.state in states]
        for call in calls:
            if not self._own(role, call):
                raise LineError(LineErr.NOTOWNER, "lineSetCallPrivilege", role.not_owner)
            self._quietly(action, call.handle)

    def _timeout(self) -> float:
        return float(self._pixit.answer_timeout) if self._pixit is not None else 30.0

    def answer(self, role: str) -> None:
        # as the auto-answer does: lineAccept first where the line needs it (_pick_up)
        self._act(role, (_S.OFFERING, _S.ACCEPTED), lambda h_call: self._pick_up(self._role(role), h_call),
                  "Answer the ringing call")

    def reject(self, role: str) -> None:
        self._act(role, (_S.OFFERING, _S.ACCEPTED), self._backend.line_drop, "Reject the ringing call")

    def hang_up(self, role: str) -> None:
        live = tuple(s for s in PARTY_STATE_OF if s not in (_S.IDLE, _S.ONHOLD, _S.ONHOLDPENDTRANSFER))
        self._act(role, live, self._backend.line_drop, "Hang up")

    def go_off_hook(self, role: str) -> None:
        r = self._role(role)
        if r.line and r.owner:
            self.answer(role)                   # lifting a ringing phone answers it
            return
        self.operator.confirm(f"Lift the handset at {role} ({r.number})", self._timeout())

    def dialable(self, role: str, number: str) -> str:
        """What ``role``'s line dials to reach ``number``: canonical ``+...`` numbers are translated."""
        r = self._role(role)
        if not number.startswith("+"):
            return number
        digits = "".join(ch for ch in number if ch.isdigit())
        prefix = r.options.get("dial_prefix")
        if prefix is None:
            try:
                return self._backend.line_translate_address(self._app, r.device, r.version, number)
            except (LineError, TapiError) as exc:
                self.notes.append(f"{role}: lineTranslateAddress({number!r}) failed ({exc}); using the PIXIT "
                                  f"dial form")
            prefix = self._pixit.dial_prefix if self._pixit is not None else ""
        return f"{prefix}00{digits}"

    def call(self, role: str, number: str) -> None:
        r = self._role(role)
        if not r.line or not r.owner:
            self.operator.confirm(f"Call {number} from {role} ({r.number})", self._timeout())
            return
        modes = media_modes_of(r.options)
        params = LineCallParams(call_param_flags=HANDS_FREE,
                                media_mode=INTERACTIVEVOICE if modes & INTERACTIVEVOICE else modes & -modes)
        dest = self.dialable(role, number)
        with self._backend.request_lock:        # register before the message thread can see the reply
            request = self._backend.line_make_call(r.line, dest, 0, params)
            with self._lock:
                self._requests[request] = role

    def observe(self, role: str) -> PartyView:
        r = self._role(role)
        if not r.line:
            return PartyView(role, "unknown")
        call = self._current(r)
        if call is None:
            return PartyView(role, "idle", off_hook=role == "desk" and self._in_use(r))
        info = call.info or LineCallInfo()
        state = PARTY_STATE_OF.get(call.state, "unknown")
        incoming = not call.outgoing
        presentation: Presentation = (presentation_of(info.caller_id_flags, info.caller_id)
                                      if incoming and call.info is not None else "unknown")
        return PartyView(
            role=role,
            state=state,
            presented_number=info.caller_id if presentation == "shown" else "",
            reason=info.reason if incoming else 0,
            redirecting_number=_shown(info.redirecting_id_flags, info.redirecting_id),
            connected_number=_shown(info.connected_id_flags, info.connected_id) if state == "connected" else "",
            presentation=presentation,
            # the name field means something only with LINECALLPARTYID_NAME, never for a withheld caller
            presented_name=info.caller_id_name if incoming and presentation != "withheld"
            and info.caller_id_flags & LineCallPartyId.NAME else "",
        )

    def _in_use(self, r: _Role) -> bool:
        """A desk set with no call that still uses its address (LINEADDRESSSTATUS dwNumInUse > 0) is
        off-hook: the handset lifted or the speaker left on (docs/tapi.md §5.7 step 4). A TSP that cannot
        tell reports 0; a refused query tells nothing either."""
        try:
            return self._backend.line_get_address_status(r.line, 0).num_in_use > 0
        except LineError:
            return False

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        """The role's view once it is in one of ``states``; None after ``timeout`` (inconclusive).

        Raises:
            LineError: LINEERR_NOTOWNER when the role's offered call belongs to another application
                and TAPI refused to make us its owner - the wait would only time out.
        """
        r = self._role(role)
        if not r.line:
            return self._ask_operator(r, states, timeout)
        ok = self._backend.wait_until(lambda: self.observe(role).state in states or bool(r.not_owner), timeout)
        view = self.observe(role)
        if view.state not in states and r.not_owner:
            raise LineError(LineErr.NOTOWNER, "lineSetCallPrivilege", r.not_owner)
        return view if ok else None

    def _ask_operator(self, r: _Role, states: frozenset[str], timeout: float) -> PartyView | None:
        wanted = " or ".join(sorted(states))
        if not self.operator.confirm(f"Tell when {r.name} ({r.number}) is {wanted}", timeout):
            return None                         # nobody confirmed: inconclusive
        state = sorted(states)[0]
        if state not in ("alerting", "connected"):
            return PartyView(r.name, state)     # type: ignore[arg-type]
        shown = self.operator.ask(f"What number does {r.name} ({r.number}) show?", timeout)
        if shown is None or shown == "?":
            return PartyView(r.name, state)     # type: ignore[arg-type]
        return PartyView(r.name, state, presented_number=shown,  # type: ignore[arg-type]
                         presentation="shown" if shown else "withheld")


def _shown(flags: int, number: str) -> str:
    """``number`` if its dw...IDFlags say it was presented (or a TSP gave digits without flags), else ""."""
    return number if presentation_of(flags, number) == "shown" or (not flags and number) else ""


def _matches(line_name: str, wanted: str, number: str) -> bool:
    if wanted:
        return wanted.casefold() in line_name.casefold()
    return bool(number) and re.search(rf"(?<!\d){re.escape(number)}(?!\d)", line_name) is not None
