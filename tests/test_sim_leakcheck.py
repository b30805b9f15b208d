"""The leak check itself must be able to fail: each kind of leftover is reported."""

from __future__ import annotations

from conftest import MakeSim, orphan_models, tear_down
from helpers import DeskSession, leak_problems

from simulator._calls import LineCall


def test_leak_check_reports_each_kind_of_leftover(make_sim: MakeSim) -> None:
    sim = make_sim("reference")
    s = DeskSession(sim)
    s.connected_call(s.open("desk"), sim.profile.pixit.remote_office)
    problems = " ".join(leak_problems(sim))
    for word in ("live calls", "models", "trunk", "handles"):
        assert word in problems
    ghost = LineCall(sim.pbx.device("201"), 1, origin=1, reason=1, outgoing=True)
    sim.pbx.machine.add_model(ghost)
    ghost.state_name = "IDLE"
    sim.pbx.later(ghost, 5.0, print)
    assert orphan_models(sim) == [repr(ghost)]
    assert any("dead" in p for p in sim.stray_timers())
    sim.pbx.machine.remove_model(ghost)
    ghost.cancel_timers()
    tear_down(sim)
    assert leak_problems(sim) == []
