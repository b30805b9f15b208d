"""Test helpers for the simulator: profiles with overrides, and ``DeskSession`` (one TAPI application).

``DeskSession`` plays the part h11's ``ConnectionPair`` plays there: it owns one application on a
``SimBackend``, opens lines by role, and drains messages while virtual time passes, keeping every message
it saw in ``log`` so tests can assert on whole sequences (order, request ids, privileges, times).
Nothing here sleeps: waiting in ``line_get_message`` is what moves the simulator's clock.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from conformance.backends.sim import SimBackend
from simulator._constants import LineAddressState, LineCallState, LineDevState, LineErr, LineMsg
from simulator._errors import LineError
from simulator._messages import LineMessage
from simulator._profile import load_profile
from simulator._profile_model import Fault, Profile

__all__ = [
    "PROFILES",
    "DeskSession",
    "leak_problems",
    "profile",
    "settle",
]

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
OWNER, MONITOR, NONE = 4, 2, 1
V2_2 = 0x00020002
ALL_LINE_STATES = int(LineDevState.RINGING | LineDevState.CONNECTED | LineDevState.DISCONNECTED
                      | LineDevState.OUTOFSERVICE | LineDevState.INSERVICE)
ALL_ADDRESS_STATES = int(LineAddressState.FORWARD | LineAddressState.NUMCALLS)

_CACHE: dict[str, Profile] = {}


def profile(name: str, *, faults: Iterable[Fault] = (), **simulation: Any) -> Profile:
    """A shipped profile by name (``"reference"``), optionally with faults / simulation fields replaced.

    ``capabilities`` overrides go through ``caps=dict(...)``, ``trunks`` through ``trunks=N``.
    """
    if name not in _CACHE:
        _CACHE[name] = load_profile(PROFILES / f"{name}.yaml")
    base = _CACHE[name]
    caps = simulation.pop("caps", None)
    trunks = simulation.pop("trunks", None)
    timing = simulation.pop("timing", None)
    sim = base.simulation
    if timing:
        sim = dataclasses.replace(sim, timing=dataclasses.replace(sim.timing, **timing))
    sim = dataclasses.replace(sim, faults=tuple(faults) or sim.faults, **simulation)
    out = dataclasses.replace(base, simulation=sim)
    if caps:
        out = dataclasses.replace(out, capabilities=dataclasses.replace(out.capabilities, **caps))
    if trunks is not None:
        out = dataclasses.replace(out, trunks=trunks)
    return out


def settle(sim: SimBackend, seconds: float = 600.0) -> None:
    """Let virtual time run until nothing is scheduled (bounded), firing everything on the way."""
    sim.clock.advance(seconds)


def leak_problems(sim: SimBackend) -> list[str]:
    """What is left in ``sim`` that should not be: live calls, machine models, trunks, stray timers."""
    problems = []
    live = sim.live_calls()
    if live:
        problems.append(f"live calls left: {live}")
    if sim.model_count():
        problems.append(f"{sim.model_count()} models left in the call machine")
    if sim.pbx.trunks_in_use:
        problems.append(f"{sim.pbx.trunks_in_use} trunk channels still in use")
    stray = sim.stray_timers()
    if stray:
        problems.append(f"timers scheduled for dead calls / closed lines: {stray}")
    if sim.handles:
        problems.append(f"{len(sim.handles)} call handles still allocated")
    return problems


class DeskSession:
    """One TAPI application on a simulator, with helpers to open lines and wait for messages."""

    def __init__(self, sim: SimBackend, name: str = "tests", api_version: int = V2_2) -> None:
        self.sim = sim
        self.app, self.num_devs, _ = sim.line_initialize_ex(name, api_version)
        self.api_version = api_version
        self.log: list[LineMessage] = []
        self._seen = 0

    # ----- lines ---------------------------------------------------------------------------------
    def device_id(self, role: str) -> int:
        dev = self.sim.role_device(role) if role in ("desk", "remote_office", "target", "caller") \
            else self.sim.pbx.device(role)
        assert dev.line_id is not None, f"{role} has no line device"
        return dev.line_id

    def open(self, role: str = "desk", privileges: int = OWNER | MONITOR, *, status: bool = True,
             ext_version: int = 0, instance: int = 0) -> int:
        """Open the line of ``role``; with ``status`` enable every line/address state message."""
        h_line = self.sim.line_open(self.app, self.device_id(role), self.api_version, ext_version, instance,
                                    privileges)
        if status:
            self.sim.line_set_status_messages(h_line, ALL_LINE_STATES, ALL_ADDRESS_STATES)
        return h_line

    # ----- messages ------------------------------------------------------------------------------
    def pump(self, seconds: float = 0.0) -> list[LineMessage]:
        """Collect every message that arrives within ``seconds`` of virtual time (and all queued now)."""
        clock = self.sim.clock
        until = clock.now() + seconds
        got: list[LineMessage] = []
        while True:
            msg = self.sim.line_get_message(self.app, max(0.0, until - clock.now()))
            if msg is None:
                break
            got.append(msg)
        self.log.extend(got)
        return got

    def wait(self, pred: Any, timeout: float = 30.0) -> LineMessage:
        """The first new message satisfying ``pred`` within ``timeout`` (virtual) seconds; fails otherwise."""
        for msg in self.log[self._seen:]:
            self._seen += 1
            if pred(msg):
                return msg
        clock = self.sim.clock
        until = clock.now() + timeout
        while True:
            got = self.sim.line_get_message(self.app, max(0.0, until - clock.now()))
            if got is None:
                raise AssertionError(f"no matching message within {timeout} s; log: {self.describe()}")
            msg = got
            self.log.append(msg)
            self._seen = len(self.log)
            if pred(msg):
                return msg

    def reply(self, req: int, timeout: float = 10.0) -> LineMessage:
        assert req > 0, f"async function returned {req}, not a request id"
        return self.wait(lambda m: m.msg == LineMsg.REPLY and m.param1 == req, timeout)

    def ok(self, req: int, timeout: float = 10.0) -> LineMessage:
        """The LINE_REPLY of ``req``, asserted successful."""
        msg = self.reply(req, timeout)
        assert msg.result == 0, f"request {req} failed: {msg.describe()}"
        return msg

    def failed(self, req: int, code: LineErr, timeout: float = 10.0) -> LineMessage:
        msg = self.reply(req, timeout)
        assert msg.error == code, f"request {req}: expected {code.tapi_name}, got {msg.describe()}"
        return msg

    def state(self, h_call: int, state: LineCallState, timeout: float = 30.0) -> LineMessage:
        """Wait until ``h_call`` is in ``state``: its latest LINE_CALLSTATE so far, or the next one that is."""
        latest = [m for m in self.log if m.msg == LineMsg.CALLSTATE and m.device == h_call]
        if latest and latest[-1].param1 == state:
            return latest[-1]
        return self.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.device == h_call and m.param1 == state,
                         timeout)

    def states(self, h_call: int) -> list[LineCallState]:
        """Every LINE_CALLSTATE seen so far for ``h_call``, in order."""
        return [LineCallState(m.param1) for m in self.log if m.msg == LineMsg.CALLSTATE and m.device == h_call]

    def messages(self, kind: LineMsg) -> list[LineMessage]:
        return [m for m in self.log if m.msg == kind]

    def new_calls(self) -> list[int]:
        """Handles announced through LINE_CALLSTATE with a privilege in dwParam3 (calls made elsewhere)."""
        seen: list[int] = []
        for m in self.log:
            if m.msg == LineMsg.CALLSTATE and m.param3 and m.device not in seen:
                seen.append(m.device)
        return seen

    def describe(self) -> str:
        return "\n  " + "\n  ".join(f"{m.time:8.3f} {m.describe()}" for m in self.log[-40:])

    # ----- common sequences ----------------------------------------------------------------------
    def make_call(self, h_line: int, dest: str | None, **kw: Any) -> int:
        """lineMakeCall and wait for its reply; returns the new handle."""
        msg = self.ok(self.sim.line_make_call(h_line, dest, **kw))
        assert msg.new_call, "successful lineMakeCall reply without a handle"
        return msg.new_call

    def connected_call(self, h_line: int, number: str) -> int:
        """Make a call from ``h_line`` to ``number`` (dialled with the trunk prefix) and wait until CONNECTED."""
        h_call = self.make_call(h_line, self.sim.profile.dial_string(number))
        self.state(h_call, LineCallState.CONNECTED)
        return h_call

    def drop_all(self) -> None:
        """Drop and deallocate every handle this application holds."""
        for h_call, handle in list(self.sim.handles.items()):
            if handle.line.app.handle != self.app:
                continue
            if handle.call.live and handle.call.handles.get(h_call, 0) & OWNER:
                with contextlib.suppress(LineError):   # already clearing: best effort
                    self.reply(self.sim.line_drop(h_call))
            self.sim.line_deallocate_call(h_call)
