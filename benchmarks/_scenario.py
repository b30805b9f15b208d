"""The workload of the simulator benchmarks: one Remote Office outbound scenario, driven like a CTI app.

``RoScenario.run()`` does, through the public provider API and party control only (no private
shortcuts): lineMakeCall from the desk to the RO number, drain messages until the call is CONNECTED
(the RO phone answers by script), lineBlindTransfer to the target, drain until the reply and IDLE,
wait until the target answers (party observation), lineDeallocateCall, the target hangs up. Every
LINEMESSAGE is fetched with lineGetMessage, which is also what moves virtual time.

``big_profile(n)`` is the reference profile plus ``n`` generated stations (built from the dataclasses
of ``simulator._profile_model``), used to put many other calls and lines next to the scenario.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from conformance.backends.sim import SimBackend
from simulator._calls import Device
from simulator._constants import ApiVersion, LineCallState, LineMsg
from simulator._profile import load_profile
from simulator._profile_model import Profile, Station

__all__ = ["RoScenario", "background_calls", "big_profile", "reference"]

ROOT = Path(__file__).resolve().parent.parent
CONNECTED, IDLE = int(LineCallState.CONNECTED), int(LineCallState.IDLE)
REPLY, CALLSTATE = LineMsg.REPLY, LineMsg.CALLSTATE
TARGET_CONNECTED = frozenset({"connected"})
FIRST_EXT = 300000


def reference() -> Profile:
    return load_profile(ROOT / "profiles/reference.yaml")


def big_profile(n_stations: int) -> Profile:
    """The reference profile with ``n_stations`` extra stations (extensions 300000, 300001, ...)."""
    base = reference()
    extra = tuple(Station(str(FIRST_EXT + i), f"+4989{FIRST_EXT + i}", f"Bench {i}") for i in range(n_stations))
    return dataclasses.replace(base, stations=base.stations + extra)


class RoScenario:
    """One CTI application with the desk line open; ``run()`` plays one complete RO outbound call."""

    def __init__(self, sim: SimBackend) -> None:
        self.sim = sim
        self.app, _, _ = sim.line_initialize_ex("bench-ro")
        desk = sim.role_device("desk")
        assert desk.line_id is not None
        self.h_line = sim.line_open(self.app, desk.line_id, ApiVersion.V2_2)
        self.ro = sim.profile.dial_string(sim.profile.pixit.remote_office)
        self.target = sim.profile.dial_string(sim.profile.pixit.target)
        self.messages = 0

    def _until(self, done: str, h_call: int = 0, req: int = 0, state: int = 0) -> int:
        """Drain messages until the reply of ``req`` (returns its hCall) or ``h_call`` reaches ``state``."""
        get = self.sim.line_get_message
        while True:
            msg = get(self.app, 30.0)
            if msg is None:
                raise RuntimeError(f"scenario stalled waiting for {done}")
            self.messages += 1
            if req and msg.msg == REPLY and msg.param1 == req:
                if msg.param2:
                    raise RuntimeError(f"{done} failed: {msg.describe()}")
                return msg.new_call
            if h_call and msg.msg == CALLSTATE and msg.device == h_call and msg.param1 == state:
                return h_call

    def run(self) -> None:
        sim = self.sim
        h_call = self._until("lineMakeCall reply", req=sim.line_make_call(self.h_line, self.ro))
        self._until("CONNECTED", h_call=h_call, state=CONNECTED)
        self._until("lineBlindTransfer reply", req=sim.line_blind_transfer(h_call, self.target))
        self._until("IDLE", h_call=h_call, state=IDLE)
        if sim.parties.wait_for("target", TARGET_CONNECTED, 30.0) is None:
            raise RuntimeError("the target never answered")
        sim.line_deallocate_call(h_call)
        sim.parties.hang_up("target")

    def check_clean(self) -> None:
        """After a scenario nothing of it may be left (a benchmark of a leaking loop measures nothing)."""
        sim = self.sim
        ro_calls = sim.role_device("remote_office").live_calls() + sim.role_device("target").live_calls()
        desk = sim.role_device("desk").live_calls()
        if ro_calls or desk or sim.pbx.trunks_in_use:
            raise RuntimeError(f"scenario left calls behind: {ro_calls + desk}, trunks {sim.pbx.trunks_in_use}")


def background_calls(sim: SimBackend, n_calls: int) -> int:
    """``n_calls`` call legs alive on generated stations (n/2 connected station-to-station calls).

    A second application (a monitoring CTI app) has a line open on every one of those stations, so the
    calls carry handles and the provider holds that many open lines. Returns the app handle.
    """
    app, _, _ = sim.line_initialize_ex("bench-background")
    stations = [sim.pbx.device(str(FIRST_EXT + i)) for i in range(n_calls)]
    for dev in stations:
        assert dev.line_id is not None
        sim.line_open(app, dev.line_id, ApiVersion.V2_2)
    connect_pairs(sim, app, stations)
    live = len(sim.live_calls())
    if live != n_calls:
        raise RuntimeError(f"{live} background calls alive, wanted {n_calls}")
    return app


def connect_pairs(sim: SimBackend, app: int, stations: list[Device]) -> None:
    """Station-to-station calls between consecutive pairs of ``stations``, answered; messages drained."""
    for a, b in zip(stations[0::2], stations[1::2], strict=True):
        sim.parties.call(a.number, b.number)
    sim.clock.advance(5.0)
    for b in stations[1::2]:
        sim.parties.answer(b.number)
    while sim.line_get_message(app, 0.0) is not None:
        pass
