"""The call-state chart, pair by pair, through ``CallMachine`` directly (no switch, no provider).

Every (state, trigger) pair of CALL_STATES x CallTrigger is tried: an allowed pair reaches its
destination and runs the after-change callback exactly once; any other raises LINEERR_INVALCALLSTATE
and leaves the state (and the callback) untouched. A second, hand-written table restates the TAPI rules
of docs/tapi.md §4 so a wrong row in the chart cannot test itself green.
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator._callstates import CALL_STATES, CALL_TRANSITIONS, CallMachine, CallTrigger, allowed_sources
from simulator._constants import LineCallState as S
from simulator._constants import LineErr
from simulator._errors import LineError

T = CallTrigger


def _dest(state: S, trigger: CallTrigger) -> S | None:
    for row in CALL_TRANSITIONS:
        if row["trigger"] == trigger.value and state.name in row["source"]:
            return S[row["dest"]]
    return None


class Model:
    """A bare model: a plain object with a __dict__, so anything bound onto it would show."""


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[Any, str, str]] = []

    def __call__(self, event: Any) -> None:
        self.events.append((event.model, event.transition.source, event.transition.dest))


PAIRS = [(state, trigger) for state in CALL_STATES for trigger in CallTrigger]


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s.name}-{t.value}" for s, t in PAIRS])
def test_every_state_trigger_pair(state: S, trigger: CallTrigger) -> None:
    recorder = Recorder()
    machine = CallMachine(after_state_change=recorder)
    model = Model()
    machine.add_model(model, initial=state)
    dest = _dest(state, trigger)
    if dest is not None:
        machine.fire(model, trigger, mode=7)
        assert model.state_name == dest.name  # type: ignore[attr-defined]
        assert recorder.events == [(model, state.name, dest.name)]
        assert state in allowed_sources(trigger)
    else:
        with pytest.raises(LineError) as info:
            machine.fire(model, trigger, function="lineTest")
        assert info.value.code == LineErr.INVALCALLSTATE
        assert info.value.function == "lineTest"
        assert model.state_name == state.name  # type: ignore[attr-defined]
        assert recorder.events == []
        assert state not in allowed_sources(trigger)
    assert machine.model_count() == 1


# TAPI's own preconditions (docs/tapi.md §4, §5), written independently of the chart.
TAPI_SOURCES: dict[CallTrigger, set[S]] = {
    T.ANSWER: {S.OFFERING, S.ACCEPTED},                                # lineAnswer
    T.HOLD: {S.CONNECTED},                                             # lineHold
    T.HOLD_PEND_TRANSFER: {S.CONNECTED},                               # lineSetupTransfer
    T.UNHOLD: {S.ONHOLD, S.ONHOLDPENDTRANSFER},                        # lineUnhold
    T.REDIRECT: {S.OFFERING},                                          # lineRedirect: "must be offering"
    T.ACCEPT: {S.OFFERING},                                            # lineAccept
    T.DROP: set(CALL_STATES) - {S.IDLE},                               # lineDrop: any state but IDLE
}


@pytest.mark.parametrize("trigger", list(TAPI_SOURCES), ids=lambda t: t.value)
def test_chart_matches_tapi_preconditions(trigger: CallTrigger) -> None:
    assert set(allowed_sources(trigger)) == TAPI_SOURCES[trigger]


def test_idle_is_final_and_every_live_state_can_be_cleared() -> None:
    for trigger in CallTrigger:
        assert S.IDLE not in allowed_sources(trigger), f"{trigger.value} leaves IDLE"
    for state in CALL_STATES:
        if state != S.IDLE:
            assert _dest(state, T.DROP) == S.IDLE
        if state not in (S.IDLE, S.DISCONNECTED):
            assert _dest(state, T.DISCONNECT) == S.DISCONNECTED


def test_no_auto_transitions_and_only_the_table_triggers() -> None:
    machine = CallMachine()
    assert set(machine.events) == {t.value for t in CallTrigger}
    assert not any(name.startswith("to_") for name in machine.events)
    assert {s.name for s in CALL_STATES} == set(machine.states)


def test_machine_binds_nothing_onto_models() -> None:
    machine = CallMachine()
    model = Model()
    machine.add_model(model)
    assert vars(model) == {"state_name": "UNKNOWN"}
    machine.fire(model, T.DIALTONE)
    machine.fire(model, T.DIAL)
    assert vars(model) == {"state_name": "DIALING"}


class CountingModel:
    """Counts equality / hash calls: a list-scanning add_model would compare against every model."""

    compares = 0

    def __eq__(self, other: object) -> bool:
        CountingModel.compares += 1
        return self is other

    def __hash__(self) -> int:
        CountingModel.compares += 1
        return id(self)


def test_add_and_remove_do_not_scan_the_models(monkeypatch: pytest.MonkeyPatch) -> None:
    machine = CallMachine()
    reads = 0
    prop: property = vars(CallMachine)["models"]
    getter = prop.fget
    assert getter is not None

    def counting_get(self: CallMachine) -> list[Any]:
        nonlocal reads
        reads += 1
        return getter(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(CallMachine, "models", property(counting_get, prop.fset))
    models = [CountingModel() for _ in range(2000)]
    CountingModel.compares = 0
    for model in models:
        machine.add_model(model)
    machine.add_model(models[0])            # adding twice is a no-op, still without a scan
    assert machine.model_count() == 2000
    for model in models:
        machine.remove_model(model)
    assert machine.model_count() == 0
    assert reads == 0, "add_model/remove_model read the whole model list"
    assert CountingModel.compares == 0, "add_model/remove_model compared models"


def test_fire_on_a_removed_model_is_an_invalid_handle() -> None:
    machine = CallMachine()
    model = Model()
    machine.add_model(model)
    machine.remove_model(model)
    with pytest.raises(LineError) as info:
        machine.fire(model, T.DROP)
    assert info.value.code == LineErr.INVALCALLHANDLE


def test_callback_may_fire_on_another_model_and_sees_it_at_once() -> None:
    """The switch clears the peer from inside a callback; a queued machine would defer that."""
    seen: list[str] = []
    machine: CallMachine

    def after(event: Any) -> None:
        if event.model is a and event.transition.dest == "IDLE":
            machine.fire(b, T.DROP)
            seen.append(b.state_name)  # type: ignore[attr-defined]

    machine = CallMachine(after_state_change=after)
    a, b = Model(), Model()
    machine.add_model(a, initial=S.CONNECTED)
    machine.add_model(b, initial=S.CONNECTED)
    machine.fire(a, T.DROP)
    assert seen == ["IDLE"]
