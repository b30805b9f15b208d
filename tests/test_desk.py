"""Finding the desk line the way real TSPs report it: failing devices skipped, canonical addresses matched."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from conformance.backends.sim import SimBackend
from conformance.suite._desk import find_desk, number_equivalent, open_desk_line
from conformance.suite._errors import HarnessError
from simulator._constants import LineErr
from simulator._errors import LineError
from simulator._profile import load_profile
from simulator._structs import LineAddressCaps, LineDevCaps

PROFILE = load_profile(Path(__file__).resolve().parents[1] / "profiles" / "reference.yaml")


class RealTsp:
    """The simulator with what a real TSP does to the device list: rewritten addresses, dead devices."""

    def __init__(self, *, addresses: dict[int, str] | None = None, names: dict[int, str] | None = None,
                 dead: dict[int, tuple[str, int]] | None = None) -> None:
        self.sim = SimBackend(PROFILE)
        self.addresses = addresses or {}
        self.names = names or {}
        self.dead = dead or {}             # device -> (function that fails, LINEERR)
        self.notes: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def _fail(self, function: str, device: int) -> None:
        if device in self.dead and self.dead[device][0] == function:
            raise LineError(self.dead[device][1], function)

    def line_get_dev_caps(self, h_app: int, device: int, api: int, ext: int = 0) -> LineDevCaps:
        self._fail("lineGetDevCaps", device)
        caps = self.sim.line_get_dev_caps(h_app, device, api, ext)
        return dataclasses.replace(caps, line_name=self.names.get(device, caps.line_name))

    def line_get_address_caps(self, h_app: int, device: int, address: int, api: int,
                              ext: int = 0) -> LineAddressCaps:
        self._fail("lineGetAddressCaps", device)
        caps = self.sim.line_get_address_caps(h_app, device, address, api, ext)
        return dataclasses.replace(caps, address=self.addresses.get(device, caps.address))


def _desk_device(tsp: RealTsp) -> int:
    """The device the simulator gives the desk extension (found with the plain rule)."""
    h_app, devices, _ = tsp.sim.line_initialize_ex("probe")
    try:
        search = find_desk(tsp, PROFILE, h_app, devices)
        assert search.device is not None
        return search.device.device_id
    finally:
        tsp.sim.line_shutdown(h_app)


@pytest.mark.parametrize("code", [LineErr.NODRIVER, LineErr.NODEVICE, LineErr.RESOURCEUNAVAIL])
@pytest.mark.parametrize("function", ["lineGetDevCaps", "lineGetAddressCaps"])
def test_a_device_that_will_not_answer_is_skipped_and_reported(function: str, code: int) -> None:
    probe = RealTsp()
    desk = _desk_device(probe)
    probe.close()
    # The desk reports its canonical number, so every device is read (an exact match would end the search).
    tsp = RealTsp(addresses={desk: "+49 89 1234-201"},
                  dead={d: (function, code) for d in range(5) if d != desk})
    line = open_desk_line(tsp, PROFILE)
    try:
        assert line.device_id == desk
        assert len(line.skipped) == 4 and all(function in s for s in line.skipped)
        assert any("skipped" in n and LineError(code, function).name in n for n in tsp.notes)
    finally:
        tsp.line_shutdown(line.h_line_app)
        tsp.close()


@pytest.mark.parametrize("reported", ["+49 89 1234-201", "+49891234201", "0049 89 1234201"])
def test_the_desk_address_as_a_canonical_number_is_found(reported: str) -> None:
    probe = RealTsp()
    desk = _desk_device(probe)
    probe.close()
    tsp = RealTsp(addresses={desk: reported})
    line = open_desk_line(tsp, PROFILE)
    try:
        assert line.device_id == desk and line.addr_caps.address == reported
    finally:
        tsp.line_shutdown(line.h_line_app)
        tsp.close()


def test_the_desk_is_found_by_its_line_name_when_the_address_says_nothing() -> None:
    probe = RealTsp()
    desk = _desk_device(probe)
    probe.close()
    tsp = RealTsp(addresses={desk: ""}, names={desk: "Ext 201 (Desk under test)"})
    line = open_desk_line(tsp, PROFILE)
    try:
        assert line.device_id == desk
    finally:
        tsp.line_shutdown(line.h_line_app)
        tsp.close()


def test_an_exact_address_ends_the_search_at_once() -> None:
    tsp = RealTsp(dead={4: ("lineGetAddressCaps", LineErr.NODRIVER)})
    line = open_desk_line(tsp, PROFILE)
    try:
        assert line.device_id == 0 and line.skipped == ()
    finally:
        tsp.line_shutdown(line.h_line_app)
        tsp.close()


def test_no_desk_is_a_harness_error_listing_every_device() -> None:
    tsp = RealTsp(addresses=dict.fromkeys(range(64), "999"), dead={0: ("lineGetAddressCaps", LineErr.NODRIVER)})
    with pytest.raises(HarnessError, match=r"no line device is the desk '201'.*device 0: skipped"):
        open_desk_line(tsp, PROFILE)
    tsp.close()


def test_number_equivalence() -> None:
    assert number_equivalent("+49 89 1234-201", "+49891234201")
    assert number_equivalent("0049891234201", "+49891234201")
    assert not number_equivalent("+49 89 1234-2011", "+49891234201")
    assert not number_equivalent("", "201")
