"""Stateful property test of the simulator: random TAPI calls and party actions, invariants after each step.

A hypothesis ``RuleBasedStateMachine`` opens four lines (desk, a colleague, the RO phone's and the
target's line) on one of several shipped profiles and then does random things to them: lineMakeCall,
lineDial, lineAnswer, lineDrop, hold / unhold / swap, blind and consultation transfers, redirect,
forwarding, lineDeallocateCall, lineClose / reopen, native RO switching, party actions (answer, hang up,
reject, call in, lift the handset) and letting virtual time pass. After every step it checks:

* trunk channels in use never exceed the trunk group, and match the legs holding one;
* every request id gets at most one LINE_REPLY, none once its line was closed, and (at the end) exactly
  one for every request whose line stayed open;
* no event for a call before the LINE_REPLY that created it;
* every handle the application ever saw is either valid or rejected with LINEERR_INVALCALLHANDLE, and
  the provider holds no handle the application was never told about;
* no orphan models in the call machine, no timers scheduled for dead calls or cancelled requests;
* lineGetAddressStatus' forward list equals the last list set (profiles whose forwarding is queryable);
* no exception other than LineError escapes a TAPI function (so no MachineError either).

At the end everything is dropped and deallocated and nothing may be left. Default run: 200 sequences of
up to 30 steps. ``RO_LONG=1`` runs 10,000 sequences of up to 50 steps (docs/testing.md).
"""

from __future__ import annotations

import os
from typing import Any

import hypothesis.strategies as st
from conftest import orphan_models
from helpers import ALL_ADDRESS_STATES, ALL_LINE_STATES, leak_problems, profile
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conformance.backends.sim import SimBackend
from simulator._constants import LineErr, LineForwardMode, LineMsg
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._structs import LineForward

LONG = os.environ.get("RO_LONG") == "1"
PROFILES = ["reference", "single-trunk", "prompted", "consult-ringing", "consult-connected-only",
            "forward-no-query", "blind-only", "native-ro"]
VARIANTS: list[dict[str, Any]] = [{}, {"reply_order": "events_first"}, {"trunk_exhaustion": "busy"},
                                  {"trunk_exhaustion": "disconnected"}, {"trunk_exhaustion": "refused"},
                                  {"caps": {"origination": "prompt_silent"}}]
ROLES = ["desk", "202", "remote_office", "target", "caller"]
LINE_ROLES = ["desk", "202", "remote_office", "target"]
OWNER = 4
BOGUS = 0x0BAD
picks = st.integers(min_value=0, max_value=10_000)


class SimulatorMachine(RuleBasedStateMachine):
    """One application on one simulator; the model tracks what TAPI promised it."""

    def __init__(self) -> None:
        super().__init__()
        self.sim: SimBackend | None = None

    # ----- set-up ----------------------------------------------------------------------------------
    @initialize(name=st.sampled_from(PROFILES), variant=st.sampled_from(VARIANTS))
    def start(self, name: str, variant: dict[str, Any]) -> None:
        self.sim = SimBackend(profile(name, **variant))
        self.app, _, _ = self.sim.line_initialize_ex("property")
        self.lines: dict[str, int] = {}
        self.requests: dict[int, tuple[int, str]] = {}   # req -> (hLine, function)
        self.replied: dict[int, int] = {}                 # req -> number of LINE_REPLYs
        self.cancelled: set[int] = set()                  # requests whose line was closed before a reply
        self.forward_requests: dict[int, tuple[str, tuple[LineForward, ...]]] = {}
        self.expected_forward: dict[str, tuple[LineForward, ...]] = {}
        self.held: set[int] = set()                       # handles the app holds
        self.dead: set[int] = set()                       # handles deallocated / of closed lines
        self.handle_line: dict[int, int] = {}
        self.seen_events: set[int] = set()
        fwd = self.sim.profile.capabilities.forwarding
        self.queryable = fwd is not None and fwd.query
        native = self.sim.profile.capabilities.native_remote_office
        self.ext = native.ext_version if native.mechanism == "devspecific" else 0
        for role in LINE_ROLES:
            self._open(role)

    def _sim(self) -> SimBackend:
        assert self.sim is not None
        return self.sim

    def _open(self, role: str) -> None:
        sim = self._sim()
        dev = sim.role_device(role) if role != "202" else sim.pbx.device("202")
        assert dev.line_id is not None
        ext = self.ext if role == "desk" else 0
        h_line = self.tapi(sim.line_open, self.app, dev.line_id, 0x00020002, ext, 0, 6)
        if isinstance(h_line, int):
            self.lines[role] = h_line
            self.tapi(sim.line_set_status_messages, h_line, ALL_LINE_STATES, ALL_ADDRESS_STATES)

    # ----- calling TAPI ----------------------------------------------------------------------------
    def tapi(self, fn: Any, *args: Any, handle: int | None = None) -> Any:
        """Call a TAPI function: only LineError may escape; dead handles must give INVALCALLHANDLE."""
        try:
            result = fn(*args)
        except LineError as exc:
            if handle is not None and handle not in self.held:
                assert exc.code == LineErr.INVALCALLHANDLE, f"{fn.__name__}(dead 0x{handle:X}): {exc}"
            self.drain()
            return exc
        if handle is not None:
            assert handle in self.held, f"{fn.__name__} accepted dead handle 0x{handle:X}"
        self.drain()
        return result

    def async_call(self, fn: Any, *args: Any, line: int, handle: int | None = None) -> int | None:
        result = self.tapi(fn, *args, handle=handle)
        if isinstance(result, int) and not isinstance(result, bool):
            assert result > 0, f"{fn.__name__} returned {result}"
            assert result not in self.requests, f"request id {result} reused"
            self.requests[result] = (line, fn.__name__)
            return result
        return None

    def drain(self) -> None:
        sim = self._sim()
        while True:
            msg = sim.line_get_message(self.app, 0.0)
            if msg is None:
                return
            self.on_message(msg)

    def on_message(self, msg: LineMessage) -> None:
        if msg.msg == LineMsg.REPLY:
            req = msg.param1
            assert req in self.requests, f"LINE_REPLY for unknown request {req}"
            assert req not in self.cancelled, f"LINE_REPLY for request {req} after its line was closed"
            self.replied[req] = self.replied.get(req, 0) + 1
            assert self.replied[req] == 1, f"request {req} got {self.replied[req]} replies"
            if msg.new_call:
                assert msg.result == 0, "a failed reply carries a handle"
                assert msg.new_call not in self.seen_events, f"events for 0x{msg.new_call:X} before its reply"
                self._learn(msg.new_call, self.requests[req][0])
            if msg.result == 0 and req in self.forward_requests:
                role, entries = self.forward_requests[req]
                self.expected_forward[role] = entries
        elif msg.msg in (LineMsg.CALLSTATE, LineMsg.CALLINFO):
            h_call = msg.device
            self.seen_events.add(h_call)
            if h_call not in self.held:
                assert msg.msg == LineMsg.CALLSTATE and msg.param3, \
                    f"{msg.describe()}: event for a handle the application never got"
                assert h_call not in self.dead, f"{msg.describe()}: event for a deallocated handle"
                line = self._sim().handles[h_call].line.handle
                self._learn(h_call, line)
        elif msg.msg == LineMsg.CLOSE:
            self._closed(msg.device)

    def _learn(self, h_call: int, h_line: int) -> None:
        self.held.add(h_call)
        self.handle_line[h_call] = h_line

    def _closed(self, h_line: int) -> None:
        for role, h in list(self.lines.items()):
            if h == h_line:
                del self.lines[role]
        for req, (line, _) in self.requests.items():
            if line == h_line and req not in self.replied:
                self.cancelled.add(req)
        for h_call in [h for h in self.held if self.handle_line[h] == h_line]:
            self.held.discard(h_call)
            self.dead.add(h_call)

    def pick_handle(self, n: int) -> int:
        pool = [*sorted(self.held | self.dead), BOGUS]
        return pool[n % len(pool)]

    def pick_line(self, n: int) -> tuple[str, int] | None:
        if not self.lines:
            return None
        role = sorted(self.lines)[n % len(self.lines)]
        return role, self.lines[role]

    def dest(self, n: int) -> str:
        sim = self._sim()
        px = sim.profile.pixit
        numbers = [sim.profile.dial_string(px.remote_office), sim.profile.dial_string(px.target), "202", "201",
                   sim.profile.dial_string("0301234599"), sim.profile.dial_string("0309999999"), "999"]
        return numbers[n % len(numbers)]

    # ----- TAPI rules ------------------------------------------------------------------------------
    @rule(n=picks, d=picks, none=st.booleans())
    def make_call(self, n: int, d: int, none: bool) -> None:
        picked = self.pick_line(n)
        if picked is not None:
            self.async_call(self._sim().line_make_call, picked[1], None if none else self.dest(d), line=picked[1])

    def _on_call(self, fn: Any, n: int, *extra: Any) -> None:
        h_call = self.pick_handle(n)
        line = self.handle_line.get(h_call, 0)
        self.async_call(fn, h_call, *extra, line=line, handle=h_call)

    @rule(n=picks, d=picks)
    def dial(self, n: int, d: int) -> None:
        self._on_call(self._sim().line_dial, n, self.dest(d))

    @rule(n=picks, op=st.sampled_from(["line_answer", "line_drop", "line_hold", "line_unhold",
                                       "line_setup_transfer"]))
    def simple(self, n: int, op: str) -> None:
        self._on_call(getattr(self._sim(), op), n)

    @rule(n=picks, d=picks, op=st.sampled_from(["line_blind_transfer", "line_redirect"]))
    def to_number(self, n: int, d: int, op: str) -> None:
        self._on_call(getattr(self._sim(), op), n, self.dest(d))

    @rule(n=picks, m=picks, op=st.sampled_from(["line_complete_transfer", "line_swap_hold"]))
    def two_calls(self, n: int, m: int, op: str) -> None:
        extra = (self.pick_handle(m), 1) if op == "line_complete_transfer" else (self.pick_handle(m),)
        self._on_call(getattr(self._sim(), op), n, *extra)

    @rule(n=picks)
    def deallocate(self, n: int) -> None:
        h_call = self.pick_handle(n)
        result = self.tapi(self._sim().line_deallocate_call, h_call, handle=h_call)
        if result is None:
            self.held.discard(h_call)
            self.dead.add(h_call)

    @rule(n=picks, d=picks, clear=st.booleans())
    def forward(self, n: int, d: int, clear: bool) -> None:
        picked = self.pick_line(n)
        if picked is None:
            return
        role, h_line = picked
        entries = () if clear else (LineForward(forward_mode=LineForwardMode.UNCOND, dest_address=self.dest(d)),)
        req = self.async_call(self._sim().line_forward, h_line, False, 0, entries or None, line=h_line)
        if req is not None:
            self.forward_requests[req] = (role, entries)

    @rule(on=st.booleans())
    def native_ro(self, on: bool) -> None:
        if not self.ext or "desk" not in self.lines:
            return   # a no-op rather than a precondition: filtered rules make hypothesis retry draws
        sim = self._sim()
        native = sim.profile.capabilities.native_remote_office
        text = native.activate.replace("{number}", self.dest(0)) if on else native.deactivate
        h_line = self.lines["desk"]
        self.async_call(sim.line_dev_specific, h_line, 0, 0, text.encode(), line=h_line)

    @rule(n=picks)
    def close_line(self, n: int) -> None:
        picked = self.pick_line(n)
        if picked is not None:
            self.tapi(self._sim().line_close, picked[1])
            self._closed(picked[1])

    @rule(role=st.sampled_from(LINE_ROLES))
    def reopen_line(self, role: str) -> None:
        if role not in self.lines:
            self._open(role)

    # ----- parties and time ------------------------------------------------------------------------
    @rule(role=st.sampled_from(ROLES), action=st.sampled_from(["answer", "hang_up", "reject", "go_off_hook"]))
    def party(self, role: str, action: str) -> None:
        getattr(self._sim().parties, action)(role)
        self.drain()

    @rule(role=st.sampled_from(["caller", "remote_office", "target", "202"]), to=st.sampled_from(["201", "202"]))
    def call_in(self, role: str, to: str) -> None:
        sim = self._sim()
        number = to if role == "202" else sim.profile.station(to).business_number
        if role == "202" and to == "202":
            return
        try:
            sim.parties.call(role, number)
        except TapiError as exc:
            assert not isinstance(exc, LineError), exc
        self.drain()

    @rule(seconds=st.sampled_from([0.0, 0.05, 0.3, 1.0, 4.0, 10.0, 30.0, 70.0]))
    def wait(self, seconds: float) -> None:
        sim = self._sim()
        until = sim.clock.now() + seconds
        while True:
            msg = sim.line_get_message(self.app, max(0.0, until - sim.clock.now()))
            if msg is None:
                break
            self.on_message(msg)

    # ----- invariants ------------------------------------------------------------------------------
    @invariant()
    def trunks(self) -> None:
        if self.sim is None:
            return
        pbx = self.sim.pbx
        assert 0 <= pbx.trunks_in_use <= pbx.trunks_total
        holding = sum(1 for d in pbx.devices.values() for c in d.calls if c.trunk)
        assert holding == pbx.trunks_in_use, f"{holding} legs hold a trunk, counter says {pbx.trunks_in_use}"

    @invariant()
    def handles(self) -> None:
        if self.sim is None:
            return
        sim = self.sim
        unknown = set(sim.handles) - self.held
        assert not unknown, f"provider holds handles the application was never given: {unknown}"
        for h_call in self.held:
            sim.line_get_call_status(h_call)
        for h_call in list(self.dead)[:20]:
            try:
                sim.line_get_call_status(h_call)
            except LineError as exc:
                assert exc.code == LineErr.INVALCALLHANDLE
            else:
                raise AssertionError(f"dead handle 0x{h_call:X} still valid")

    @invariant()
    def no_leaks_on_the_way(self) -> None:
        if self.sim is None:
            return
        assert self.sim.stray_timers() == []
        assert orphan_models(self.sim) == []
        assert all(c.live or c.handles for c in self.sim.pbx.machine.models)

    @invariant()
    def forwarding_agrees(self) -> None:
        if self.sim is None or not self.queryable:
            return
        for role, h_line in self.lines.items():
            status = self.sim.line_get_address_status(h_line, 0)
            assert status.forward == self.expected_forward.get(role, ()), f"{role}: {status.forward}"

    def teardown(self) -> None:
        if self.sim is None:
            return
        sim = self.sim
        self.wait(10.0)
        for req, (_, fn) in self.requests.items():
            if req not in self.cancelled:
                assert self.replied.get(req) == 1, f"request {req} ({fn}) never got its LINE_REPLY"
        for _ in range(4):
            for h_call in sorted(self.held):
                call = sim.handles[h_call].call
                if call.live and call.handles.get(h_call, 0) & OWNER:
                    self.async_call(sim.line_drop, h_call, line=self.handle_line[h_call], handle=h_call)
            self.wait(1.0)
            for h_call in sorted(self.held):
                self.tapi(sim.line_deallocate_call, h_call)
                self.held.discard(h_call)
                self.dead.add(h_call)
            for role in ROLES:
                sim.parties.hang_up(role)
            self.wait(1.0)
        problems = leak_problems(sim)
        sim.line_shutdown(self.app)
        assert problems == [], problems


SimulatorMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("RO_EXAMPLES", 10_000 if LONG else 200)),
    stateful_step_count=50 if LONG else 30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    report_multiple_bugs=False,
)
TestSimulatorProperties = SimulatorMachine.TestCase
