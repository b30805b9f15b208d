"""Party control (not TAPI): the people around the PBX, for tests and for developers.

Answer, reject, hang up or lift the handset at any station or external number, place a call from an
external number, and observe what a party experiences (alerting, the number it is shown, why the call
reached it). Roles ("desk", "remote_office", "target", "caller") come from the profile's PIXIT; any
extension or external number works too.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from simulator._calls import Device, LineCall, PartyId
from simulator._callstates import CallTrigger
from simulator._constants import LineCallOrigin, LineCallReason, LineDialToneMode, LineDisconnectMode
from simulator._errors import TapiError
from simulator._partyview import PARTY_STATE_OF, ROLES, PartyState, PartyView, current_call, presentation_of

if TYPE_CHECKING:
    from simulator._provider import Provider

__all__ = ["PartyView", "SimParties"]

def _state(call: LineCall) -> int:
    return call.state


class SimParties:
    """Direct control of the simulated parties; waiting moves the provider's clock."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.pbx = provider.pbx

    def number_of(self, role: str) -> str:
        """The number a role (or a number) stands for; ``TapiError`` for a role that is neither."""
        number = getattr(self.provider.profile.pixit, role) if role in ROLES else role
        if number in self.pbx.devices or any(ch.isdigit() for ch in number):
            return str(number)
        raise TapiError(f"unknown party {role!r}: use one of {', '.join(ROLES)} or a number")

    def device(self, role: str) -> Device:
        """The party's device, created for a new external number (something is about to happen there)."""
        return self.pbx.device(self.number_of(role))

    def find(self, role: str) -> Device | None:
        """The party's device if the PBX has met it; a mere look-up never creates one (memory)."""
        return self.pbx.devices.get(self.number_of(role))

    @staticmethod
    def _current(dev: Device) -> LineCall | None:
        return current_call(dev.live_calls(), _state)

    def answer(self, role: str) -> None:
        dev = self.find(role)
        if dev is None:
            return  # a number nobody called: nothing rings there
        call = next((c for c in dev.live_calls() if c.state_name in ("OFFERING", "ACCEPTED")), None)
        if call is None:
            pending = next((c for c in dev.live_calls() if c.pending is not None), None)
            if pending is None:
                return  # nothing is ringing: a person picking up a silent phone changes nothing
            call = pending
        if dev.is_station:
            dev.handset_off_hook = True
        self.pbx.answer(call)

    def reject(self, role: str) -> None:
        dev = self.find(role)
        if dev is None:
            return
        call = next((c for c in dev.live_calls() if c.state_name in ("OFFERING", "ACCEPTED")), None)
        if call is not None:
            self.pbx.reject(call)

    def hang_up(self, role: str) -> None:
        dev = self.find(role)
        if dev is None:
            return
        dev.handset_off_hook = False
        calls = dev.live_calls()
        held_only = all(c.state_name in ("ONHOLD", "ONHOLDPENDTRANSFER") for c in calls)
        # An external party is a TAPI party line on the other backends (tapi32), where hanging up is a
        # lineDrop: under call_never_idle it leaves the call DISCONNECTED, holding its trunk channel, as
        # the lineDrop of simulator._callcontrol does. The same here, so every backend sees one PBX.
        never_idle = not dev.is_station and self.pbx.fault("call_never_idle") is not None

        def end(call: LineCall) -> None:
            if not never_idle:
                self.pbx.drop(call)
            elif call.state_name != "DISCONNECTED":
                self.pbx.fire(call, CallTrigger.DISCONNECT, LineDisconnectMode.NORMAL)
        for call in calls:
            # hanging up leaves held calls waiting; hanging up with only held calls clears them
            if held_only or call.state_name not in ("ONHOLD", "ONHOLDPENDTRANSFER"):
                # party_release_delay: as lineDrop on the party's line does on the other backends
                self.pbx.release(call, functools.partial(end, call))

    def go_off_hook(self, role: str) -> None:
        dev = self.device(role)
        pending = next((c for c in dev.live_calls() if c.pending is not None), None)
        if pending is not None:
            self.pbx.answer(pending)
            return
        ringing = next((c for c in dev.live_calls() if c.state_name == "OFFERING"), None)
        if ringing is not None:
            dev.handset_off_hook = True
            self.pbx.answer(ringing)
            return
        dev.handset_off_hook = True

    def call(self, role: str, number: str) -> None:
        """``role`` dials ``number`` (an external party dials a business number, a station dials as usual)."""
        dev = self.device(role)
        trunk = not dev.is_station
        if trunk and not self.pbx.trunk_free():
            raise TapiError(f"{role}: the PBX has no free trunk channel for an incoming call")
        call = self.pbx.new_leg(dev, outgoing=True, origin=LineCallOrigin.OUTBOUND,
                                reason=LineCallReason.DIRECT, trunk=trunk)
        call.caller = self.pbx.party_of(dev)
        if dev.is_station:
            dev.handset_off_hook = True
        self.pbx.fire(call, CallTrigger.DIALTONE, LineDialToneMode.NORMAL)
        self.pbx.progress(call, number)

    def observe(self, role: str) -> PartyView:
        dev = self.find(role)
        if dev is None:   # never met: what a fresh device would show, without creating one
            d = self.provider.profile.default_external
            return PartyView(role, "busy" if d.behaviour == "busy" else "idle", off_hook=False)
        call = self._current(dev)
        if call is None:
            # A scripted "busy" number is a phone that is in use elsewhere: that is what its owner sees.
            state: PartyState = "busy" if not dev.is_station and dev.behaviour == "busy" else "idle"
            return PartyView(role, state, off_hook=dev.off_hook)
        peer = call.peer
        # The caller-ID block exactly as this call's LINECALLINFO carries it, read the way the tapi32
        # backend reads it (presentation_of), so a name-only or withheld block is told apart from "unknown".
        shown = PartyId() if call.outgoing else self.pbx.shown_party("caller", call.caller)
        presentation = presentation_of(shown.flags, shown.number) if not call.outgoing else "unknown"
        return PartyView(
            role=role,
            state=PARTY_STATE_OF.get(call.state, "unknown"),
            presented_number=shown.number if presentation == "shown" else "",
            presentation=presentation,
            presented_name="" if shown.blocked else shown.name,
            reason=0 if call.outgoing else int(call.reason),
            redirecting_number=call.redirecting.number,
            connected_number=self.pbx.connected_shown(call) if peer is not None and call.state_name == "CONNECTED"
            else "",
            off_hook=dev.off_hook,
        )

    def _state_of(self, number: str) -> str:
        """``observe(...).state`` without building the view (it is polled after every clock step)."""
        dev = self.pbx.devices.get(number)
        if dev is None:
            return "busy" if self.provider.profile.default_external.behaviour == "busy" else "idle"
        call = self._current(dev)
        return "idle" if call is None else PARTY_STATE_OF.get(call.state, "unknown")

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        number = self.number_of(role)
        ok = self.provider.clock.run_until(lambda: self._state_of(number) in states, timeout)
        return self.observe(role) if ok else None
