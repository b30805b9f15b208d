"""Party control through TAPI lines only: the PIXIT's other lines play the parties around the desk.

On a real PBX the vendor's PIXIT names (``pixit.party_lines``: role -> TAPI line name) the lines that play
the Remote Office phone, the target and the caller; on the simulator behind the emulated DLL these are
its extra "Party line <number>" devices. A line matches a role when its LINEDEVCAPS line name equals or
contains the PIXIT's line name, or else contains the role's number as a whole number.

* remote_office / target: opened OWNER|MONITOR; an OFFERING call is answered automatically after its
  LINECALLINFO was read (caller ID = ``presented_number``, ``dwReason``, RedirectingID). ``set_auto_answer``
  turns that off for a role, so a test can answer or reject it itself.
* caller: ``call(role, number)`` is lineMakeCall from the caller's line.
* desk: opened MONITOR only (the application under test must own it); observed, never acted on.
* answer / reject / hang_up = lineAnswer / lineDrop on the role's current call. A far end that leaves
  (DISCONNECTED) is dropped and the handle deallocated at IDLE, as a phone would.

A role without a line (a real PBX without spare lines, or any action on the desk set) falls back to an
operator prompt on stdin with a timeout; nobody answering (or no terminal at all) makes the wait return
``None``, which the suite reports as inconclusive. Messages of the party lines arrive on the adapter's
message thread of this helper application (``Tapi32Backend.app_listener``).
"""

from __future__ import annotations

import contextlib
import re
import select
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from conformance.backend import INTERACTIVEVOICE, OWNER_MONITOR, PartyView
from simulator._constants import ApiVersion, LineCallOrigin, LineCallPrivilege, LineCallState, LineMsg
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._partyview import PARTY_STATE_OF, ROLES, current_call
from simulator._structs import LineCallInfo

if TYPE_CHECKING:
    from conformance.backends.tapi32._adapter import Tapi32Backend
    from simulator._profile_model import Pixit

__all__ = ["ROLES", "Tapi32Parties", "operator_prompt"]

AUTO_ANSWER: Final = frozenset({"remote_office", "target"})
MONITOR: Final = int(LineCallPrivilege.MONITOR)
_S = LineCallState


def operator_prompt(text: str, timeout: float) -> bool:
    """Ask a person at the console; True if they confirmed (Enter) within ``timeout`` seconds.

    Without an interactive stdin (CI, pytest capturing) nobody can answer: False at once.
    """
    stream = sys.stdin
    if stream is None or not stream.isatty():
        return False
    print(f"\n[operator] {text} - press Enter when done ({timeout:.0f} s)", file=sys.stderr, flush=True)
    if sys.platform == "win32":
        import msvcrt
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if msvcrt.kbhit() and msvcrt.getwch() in "\r\n":
                return True
            time.sleep(0.05)
        return False
    ready, _, _ = select.select([stream], [], [], timeout)
    if ready:
        stream.readline()
    return bool(ready)


@dataclass
class _Call:
    handle: int
    state: int = 0
    outgoing: bool = False
    info: LineCallInfo | None = None


@dataclass
class _Role:
    name: str
    number: str
    line: int = 0
    device: int = -1
    line_name: str = ""
    auto_answer: bool = False
    owner: bool = True
    calls: dict[int, _Call] = field(default_factory=dict)


class Tapi32Parties:
    """``PartyControl`` over the PIXIT's party lines (see the module docstring)."""

    def __init__(self, backend: Tapi32Backend, pixit: Pixit | None,
                 prompt: Callable[[str, float], bool] | None = None) -> None:
        self._backend = backend
        self._pixit = pixit
        self._prompt = prompt or operator_prompt
        self._lock = threading.RLock()
        self._roles: dict[str, _Role] = {}
        self._requests: dict[int, str] = {}     # our lineMakeCall request id -> role
        self._app = 0
        self.errors: list[str] = []

    # ----- set-up ---------------------------------------------------------------------------
    def open(self) -> None:
        """Find and open the party lines (idempotent). Roles without a line stay prompt-only."""
        if self._app or self._pixit is None:
            return
        pixit = self._pixit
        for name in ROLES:
            self._roles[name] = _Role(name, getattr(pixit, name), auto_answer=name in AUTO_ANSWER,
                                      owner=name != "desk")
        self._app, num_devs, _ = self._backend.app_listener("RO conformance parties", self._on_message)
        names = self._line_names(num_devs)
        for index, role in enumerate(self._roles.values()):
            wanted = pixit.party_lines.get(role.name, "")
            device = next((d for d, (n, _v) in names.items() if _matches(n, wanted, role.number)), None)
            if device is None:
                continue
            line_name, version = names[device]
            role.line = self._backend.line_open(self._app, device, version, 0, index + 1,
                                                OWNER_MONITOR if role.owner else MONITOR, INTERACTIVEVOICE)
            role.device, role.line_name = device, line_name

    def _line_names(self, num_devs: int) -> dict[int, tuple[str, int]]:
        names = {}
        for device in range(num_devs):
            try:
                version = self._backend.line_negotiate_api_version(self._app, device, ApiVersion.V1_3,
                                                                   ApiVersion.V2_2)
                caps = self._backend.line_get_dev_caps(self._app, device, version)
            except LineError:
                continue                        # a device that will not talk to us plays no role
            names[device] = (caps.line_name, version)
        return names

    def close(self) -> None:
        if self._app:
            app, self._app = self._app, 0
            with contextlib.suppress(LineError):
                self._backend.line_shutdown(app)

    def describe(self) -> dict[str, str]:
        return {r.name: r.line_name or "(operator)" for r in self._roles.values()}

    def set_auto_answer(self, role: str, on: bool) -> None:
        self._role(role).auto_answer = on

    def _role(self, role: str) -> _Role:
        if role not in self._roles:
            raise TapiError(f"unknown party {role!r}: use one of {', '.join(ROLES)}")
        return self._roles[role]

    # ----- messages of the party lines (on the helper's message thread) -----------------------
    def _on_message(self, message: LineMessage) -> None:
        if message.msg == LineMsg.REPLY:
            with self._lock:
                name = self._requests.pop(message.request_id, None)
                if name is not None and message.new_call:
                    self._roles[name].calls.setdefault(message.new_call, _Call(message.new_call, outgoing=True))
            return
        if message.msg == LineMsg.APPNEWCALL:
            role = self._by_line(message.device)
            if role is not None:
                with self._lock:
                    role.calls.setdefault(message.param2, _Call(message.param2))
        elif message.msg == LineMsg.CALLSTATE:
            self._call_state(message)
        elif message.msg == LineMsg.CALLINFO:
            self._refresh(message.device)
        elif message.msg == LineMsg.CLOSE:
            role = self._by_line(message.device)
            if role is not None:
                with self._lock:
                    role.line, role.calls = 0, {}

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
        if state == _S.IDLE:
            with self._lock:
                role.calls.pop(h_call, None)
            self._quietly(self._backend.line_deallocate_call, h_call)
            return
        if state in (_S.OFFERING, _S.CONNECTED):
            self._refresh(h_call)
        if state == _S.OFFERING and role.auto_answer and role.owner:
            self._quietly(self._backend.line_answer, h_call)
        elif state == _S.DISCONNECTED and role.owner:
            self._quietly(self._backend.line_drop, h_call)      # the far end left: hang up

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
            self.errors.append(str(exc))

    # ----- PartyControl -----------------------------------------------------------------------
    def _current(self, role: _Role) -> _Call | None:
        with self._lock:
            live = [c for c in role.calls.values() if c.state not in (0, _S.IDLE, _S.DISCONNECTED)]
        return current_call(live, lambda c: c.state)

    def _act(self, role_name: str, states: tuple[int, ...], action: Callable[[int], Any], what: str) -> None:
        role = self._role(role_name)
        if not role.line or not role.owner:
            self._prompt(f"{what} at {role_name} ({role.number})", self._timeout())
            return
        with self._lock:
            calls = [c.handle for c in role.calls.values() if c.state in states]
        for h_call in calls:
            self._quietly(action, h_call)

    def _timeout(self) -> float:
        return float(self._pixit.answer_timeout) if self._pixit is not None else 30.0

    def answer(self, role: str) -> None:
        self._act(role, (_S.OFFERING, _S.ACCEPTED), self._backend.line_answer, "Answer the ringing call")

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
        self._prompt(f"Lift the handset at {role} ({r.number})", self._timeout())

    def call(self, role: str, number: str) -> None:
        r = self._role(role)
        if not r.line or not r.owner:
            self._prompt(f"Call {number} from {role} ({r.number})", self._timeout())
            return
        with self._backend._lock:          # register before the message thread can see the reply
            request = self._backend.line_make_call(r.line, number)
            with self._lock:
                self._requests[request] = role

    def observe(self, role: str) -> PartyView:
        r = self._role(role)
        if not r.line:
            return PartyView(role, "unknown")
        call = self._current(r)
        if call is None:
            return PartyView(role, "idle")
        info = call.info or LineCallInfo()
        state = PARTY_STATE_OF.get(call.state, "unknown")
        incoming = not call.outgoing
        far = info.connected_id     # only what the PBX reports; "" = not observable here
        return PartyView(
            role=role,
            state=state,
            presented_number=info.caller_id if incoming else "",
            reason=info.reason if incoming else 0,
            redirecting_number=info.redirecting_id,
            connected_number=far if state == "connected" else "",
        )

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        r = self._role(role)
        if not r.line:
            wanted = " or ".join(sorted(states))
            if not self._prompt(f"Tell when {role} ({r.number}) is {wanted}", timeout):
                return None                     # nobody confirmed: inconclusive
            return PartyView(role, sorted(states)[0])  # type: ignore[arg-type]
        ok = self._backend.wait_until(lambda: self.observe(role).state in states, timeout)
        return self.observe(role) if ok else None


def _matches(line_name: str, wanted: str, number: str) -> bool:
    if wanted:
        return wanted.casefold() in line_name.casefold()
    return bool(number) and re.search(rf"(?<!\d){re.escape(number)}(?!\d)", line_name) is not None
