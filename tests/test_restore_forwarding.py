"""The post-condition restores only forwarding modes the address lists in dwForwardModes."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from conformance.backends.sim import SimBackend
from conformance.suite._desk import open_desk_line
from conformance.suite._errors import HarnessError
from conformance.suite._restore import restorable_forwards
from conformance.suite._session import LineSession
from simulator._constants import LineForwardMode
from simulator._profile import load_profile
from simulator._structs import LineAddressStatus, LineForward

PROFILE = load_profile(Path(__file__).resolve().parents[1] / "profiles" / "reference.yaml")
UNCOND = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address="001711234567")
UNKNOWN = LineForward(forward_mode=int(LineForwardMode.UNKNOWN), dest_address="0301234567")
UNAVAIL = LineForward(forward_mode=int(LineForwardMode.UNAVAIL))


def test_only_listed_modes_are_restorable() -> None:
    kept, dropped = restorable_forwards((UNKNOWN, UNCOND, UNAVAIL), int(LineForwardMode.UNCOND))
    assert kept == (UNCOND,) and len(dropped) == 2 and "UNKNOWN" in dropped[0]
    kept, dropped = restorable_forwards((UNCOND,), int(LineForwardMode.BUSY))
    assert kept == () and dropped


class ForwardedElsewhere:
    """The simulator, but the desk was forwarded in a way the TSP reports as UNKNOWN before the test."""

    def __init__(self, rings: int = 0) -> None:
        self.sim = SimBackend(PROFILE)
        self.forwards: list[Any] = []
        self.rings_seen: list[int] = []
        self.rings = rings

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        status = self.sim.line_get_address_status(h_line, address_id)
        return dataclasses.replace(status, forward=(UNKNOWN, UNCOND), num_rings_no_answer=self.rings)

    def line_forward(self, h_line: int, all_addresses: bool, address_id: int, forward_list: Any,
                     rings: int = 0) -> int:
        self.forwards.append(forward_list)
        self.rings_seen.append(rings)
        return self.sim.line_forward(h_line, all_addresses, address_id, forward_list, rings)


def test_the_post_condition_never_sends_unknown_or_unavail() -> None:
    backend = ForwardedElsewhere()
    line = open_desk_line(backend, PROFILE)
    session = LineSession(backend, PROFILE, line)
    try:
        session.precondition()
        session.forward_touched = True
        with pytest.raises(HarnessError, match=r"UNKNOWN .* cannot be restored"):
            session.postcondition()
        assert backend.forwards == [(UNCOND,)]
    finally:
        backend.line_shutdown(line.h_line_app)
        backend.close()


def test_the_post_condition_gives_back_the_desks_no_answer_ring_count() -> None:
    """A desk whose forwarding carried its own dwNumRingsNoAnswer (5) gets it back with its entries, not 0."""
    backend = ForwardedElsewhere(rings=5)
    line = open_desk_line(backend, PROFILE)
    session = LineSession(backend, PROFILE, line)
    try:
        session.precondition()
        session.forward_touched = True
        with pytest.raises(HarnessError):                   # the UNKNOWN entry is said, as above
            session.postcondition()
        assert backend.forwards == [(UNCOND,)] and backend.rings_seen == [5]
    finally:
        backend.line_shutdown(line.h_line_app)
        backend.close()
