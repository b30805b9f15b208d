"""The compiled (state, trigger) table of ``CallMachine.fire`` against ``transitions``' own trigger path.

``fire`` skips ``Event.trigger`` for speed (BENCHMARKS.md, P1). It is only allowed to do so if, for every
(state, trigger) pair, it ends in the same state, calls the after-change callback with the same
information, and refuses the same moves with the same LINEERR as the full path (``fire_full``).
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator._callstates import CALL_STATES, CALL_TRANSITIONS, CallMachine, CallTrigger
from simulator._constants import LineErr
from simulator._errors import LineError

PAIRS = [(state, trigger) for state in CALL_STATES for trigger in CallTrigger]


class Model:
    state_name = ""

    def __init__(self, name: str) -> None:
        self.name = name


def _run(fast: bool, state: Any, trigger: CallTrigger) -> tuple[str, list[tuple[Any, ...]], int | None]:
    """(final state, callback log, LINEERR or None) of one trigger on a fresh machine."""
    log: list[tuple[Any, ...]] = []

    def after(event: Any) -> None:
        log.append((event.model.name, event.transition.source, event.transition.dest, event.state.name,
                    event.event.name, dict(event.kwargs), event.args))

    machine = CallMachine(after_state_change=after)
    model = Model("call")
    machine.add_model(model, initial=state)
    fire = machine.fire if fast else machine.fire_full
    try:
        fire(model, trigger, "lineTest", mode=7)
    except LineError as exc:
        return model.state_name, log, exc.code
    return model.state_name, log, None


def test_the_compiled_table_is_in_use() -> None:
    assert CallMachine()._moves is not None


@pytest.mark.parametrize(("state", "trigger"), PAIRS, ids=[f"{s.name}-{t.value}" for s, t in PAIRS])
def test_compiled_and_full_paths_agree(state: Any, trigger: CallTrigger) -> None:
    fast, full = _run(True, state, trigger), _run(False, state, trigger)
    assert fast == full
    allowed = any(t["trigger"] == trigger.value and state.name in t["source"] for t in CALL_TRANSITIONS)
    assert (fast[2] is None) == allowed
    if not allowed:
        assert fast[2] == LineErr.INVALCALLSTATE and fast[0] == state.name and fast[1] == []


def test_nested_triggers_from_a_callback_run_at_once_on_both_paths() -> None:
    """The switch fires on the peer from inside the callback (not queued): same order on both paths."""
    def sequence(fast: bool) -> list[tuple[str, str]]:
        log: list[tuple[str, str]] = []
        models = {"a": Model("a"), "b": Model("b")}

        def after(event: Any) -> None:
            log.append((event.model.name, event.transition.dest))
            if event.model.name == "a" and event.transition.dest == "IDLE":
                (machine.fire if fast else machine.fire_full)(models["b"], CallTrigger.DISCONNECT)
            log.append((event.model.name, "after"))

        machine = CallMachine(after_state_change=after)
        for m in models.values():
            machine.add_model(m, initial="CONNECTED")
        (machine.fire if fast else machine.fire_full)(models["a"], CallTrigger.DROP)
        return log

    assert sequence(True) == sequence(False) == [("a", "IDLE"), ("b", "DISCONNECTED"), ("b", "after"),
                                                 ("a", "after")]


def test_a_machine_with_an_unmodelled_hook_takes_the_full_path() -> None:
    class Hooked(CallMachine):
        def __init__(self) -> None:
            self.entered: list[str] = []
            super().__init__()
            self.get_state("CONNECTED").add_callback("enter", lambda event: self.entered.append("CONNECTED"))
            self._moves = self._compile()

    machine = Hooked()
    assert machine._moves is None
    model = Model("m")
    machine.add_model(model, initial="OFFERING")
    machine.fire(model, CallTrigger.ANSWER)
    assert model.state_name == "CONNECTED" and machine.entered == ["CONNECTED"]
