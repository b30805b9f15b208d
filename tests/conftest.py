"""Project-test fixtures: simulator factories and a leak check after every test that made a simulator.

Every ``Provider`` (so every ``SimBackend``) created during a test is recorded. After the test, each one
is torn down the way a real system would be (every application shut down, every party hangs up) and
must then hold nothing: no live calls, no models in the shared call machine, no trunk channel in use,
no allocated call handle, and no timer scheduled for a dead call or a cancelled request.

Tests that use the ``make_sim`` / ``sim`` fixtures get the *strict* check: on top of the above, the
state is checked before the tear-down too (no stray timers, no orphan models: every model in the
machine is a live call or an IDLE call someone still holds a handle to) and the tear-down must leave
nothing behind *without* letting virtual time run. Simulators made any other way (other engineers'
tests) get the lenient form: virtual time may run out to settle things before the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers import leak_problems, profile

from conformance.backends.sim import SimBackend
from simulator._clock import VirtualClock
from simulator._parties import SimParties
from simulator._profile_model import Profile
from simulator._provider_core import ProviderCore

MakeSim = Callable[..., SimBackend]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from this run instead of comparing (tests/golden_tools.py)")


def orphan_models(sim: ProviderCore) -> list[str]:
    """Models the call machine still holds although nothing can reach them any more."""
    return [repr(c) for c in sim.pbx.machine.models if not c.live and not c.handles]


def tear_down(sim: ProviderCore) -> None:
    """Shut every application down, then let every party hang up (held calls need a second pass)."""
    for app in list(sim.apps):
        sim.line_shutdown(app)
    parties = getattr(sim, "parties", None) or SimParties(sim)  # type: ignore[arg-type]
    for _ in range(3):
        busy = [dev.number for dev in sim.pbx.devices.values() if dev.live_calls()]
        if not busy:
            break
        for number in busy:
            parties.hang_up(number)
    # What a hang-up leaves up (call_never_idle: an external party's hang-up stays DISCONNECTED, as its
    # party line's lineDrop does) goes the way switching the PBX off clears it.
    for dev in list(sim.pbx.devices.values()):
        for call in dev.live_calls():
            sim.pbx.drop(call)


@pytest.fixture(autouse=True)
def _leak_check(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[None]:
    created: list[ProviderCore] = []
    original = ProviderCore.__init__

    def recording_init(self: ProviderCore, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    monkeypatch.setattr(ProviderCore, "__init__", recording_init)
    yield
    monkeypatch.setattr(ProviderCore, "__init__", original)
    strict: set[int] = getattr(request.node, "_strict_sims", set())
    failures = []
    for index, sim in enumerate(created):
        is_strict = id(sim) in strict
        problems: list[str] = []
        if is_strict:
            problems += [f"before tear-down: {p}" for p in sim.stray_timers()]
            problems += [f"before tear-down: orphan model {m}" for m in orphan_models(sim)]
        tear_down(sim)
        if not is_strict and isinstance(sim.clock, VirtualClock):
            sim.clock.advance(3600.0)
        problems += leak_problems(sim)  # type: ignore[arg-type]
        if problems:
            failures.append(f"simulator #{index} ({sim.profile.name}, {'strict' if is_strict else 'lenient'}):"
                            + "".join(f"\n    {p}" for p in problems))
    if failures:
        pytest.fail("leak check failed:\n  " + "\n  ".join(failures), pytrace=False)


@pytest.fixture
def make_sim(request: pytest.FixtureRequest) -> MakeSim:
    """``make_sim("reference", faults=[...], trunk_exhaustion="busy")`` -> a strictly leak-checked SimBackend."""
    strict: set[int] = set()
    request.node._strict_sims = strict

    def factory(prof: str | Profile = "reference", **overrides: Any) -> SimBackend:
        sim = SimBackend(prof if isinstance(prof, Profile) else profile(prof, **overrides))
        strict.add(id(sim))
        return sim

    return factory


@pytest.fixture
def sim(make_sim: MakeSim) -> SimBackend:
    """The reference profile on a virtual clock, strictly leak-checked."""
    return make_sim("reference")
