"""How the switch places a call made with lineMakeCall: hands-free, prompted, refused, or native RO.

docs/tapi.md §11: a PBX that auto-originates takes the desk phone off-hook hands-free and the
call progresses DIALTONE -> DIALING -> PROCEEDING -> RINGBACK with nobody at the desk. A prompted PBX
first rings the desk phone (OFFERING, or nothing visible) and waits for someone to lift the handset.
With native Remote Office active (§12) the PBX rings the Remote Office phone first and, once it
answers, calls the destination under the business number.
"""

from __future__ import annotations

from simulator._calls import LineCall, PartyId
from simulator._callstates import CallTrigger as T
from simulator._constants import (
    LineCallOrigin,
    LineCallReason,
    LineDialToneMode,
    LineDisconnectMode,
    LineOfferingMode,
)
from simulator._switch import Pbx

__all__ = ["Origination"]


class Origination:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        pbx.on_remote_answer = self._native_remote_answered

    def start(self, call: LineCall, dest: str | None, origoffhook: bool = True) -> None:
        """Begin the progress of a call just made (its LINE_REPLY has gone out); ``origoffhook``: its
        LINECALLPARAMS asked for the set to be taken off-hook."""
        pbx, station = self.pbx, call.device
        call.caller = PartyId(station.number, station.name)
        dest = None if dest in (None, "", ";") else dest
        if station.native_ro and dest is not None and pbx.fault("native_not_applied") is None:
            self._native(call, dest)
            return
        mode: str = pbx.profile.capabilities.origination if station.is_station else "auto"
        differs = pbx.fault("origination_differs") if station.is_station else None
        if differs is not None:   # the PBX claims one way of originating and behaves another
            mode = differs.behaves
        if mode == "auto" and station.is_station and not origoffhook and pbx.profile.simulation.origoffhook_needs_flag:
            mode = "prompt_offering"   # hands-free only on request (docs/tapi.md §11.1): the user is asked
        if mode == "prompt_then_auto":   # rings the desk set, then goes off-hook hands-free by itself
            call.pending = lambda: self._lifted(call, dest)
            pbx.fire(call, T.OFFER, LineOfferingMode.ACTIVE)
            pbx.later(call, differs.seconds if differs else 0.0, self._auto_answer, call, dest)
        elif mode == "auto":
            self._hands_free(call, dest)
        elif mode == "prompt_offering":
            call.pending = lambda: self._lifted(call, dest)
            pbx.fire(call, T.OFFER, LineOfferingMode.ACTIVE)
            self._prompt_timeout(call)
        else:  # prompt_silent: nothing visible until someone lifts the handset
            call.pending = lambda: self._lifted(call, dest)
            self._prompt_timeout(call)

    def _hands_free(self, call: LineCall, dest: str | None) -> None:
        pbx = self.pbx
        if call.device.is_station:
            call.device.speaker_on = True
        if pbx.profile.simulation.dialtone_state or dest is None:
            pbx.fire(call, T.DIALTONE, LineDialToneMode.NORMAL)
            if dest is not None:
                pbx.later(call, pbx.profile.simulation.timing.dial / 2, pbx.progress, call, dest)
        else:
            pbx.progress(call, dest)

    def _auto_answer(self, call: LineCall, dest: str | None) -> None:
        call.pending = None
        call.device.speaker_on = True
        if dest is None:
            self.pbx.fire(call, T.DROP)
            return
        self.pbx.progress(call, dest)

    def _lifted(self, call: LineCall, dest: str | None) -> None:
        call.device.handset_off_hook = True
        call.cancel_timers()
        if call.state_name == "OFFERING":
            if dest is None:
                self.pbx.fire(call, T.DROP)   # nothing to dial: a prompted PBX needs the number
                return
            self.pbx.progress(call, dest)
        else:
            self.pbx.fire(call, T.DIALTONE, LineDialToneMode.NORMAL)
            if dest is not None:
                self.pbx.progress(call, dest)

    def _prompt_timeout(self, call: LineCall) -> None:
        timeout = self.pbx.profile.simulation.timing.prompt_timeout
        if timeout > 0:
            self.pbx.later(call, timeout, self._prompt_expired, call)

    def _prompt_expired(self, call: LineCall) -> None:
        call.pending = None
        if call.state_name == "UNKNOWN":
            self.pbx.fire(call, T.DROP)
        else:
            self.pbx.fire(call, T.DISCONNECT, LineDisconnectMode.NOANSWER)

    # ----- native Remote Office ---------------------------------------------------------------
    def _native(self, call: LineCall, dest: str) -> None:
        pbx = self.pbx
        call.dial_string = dest
        call.called = PartyId(dest)
        pbx.fire(call, T.DIAL)
        pbx.later(call, pbx.profile.simulation.timing.dial, self._ring_remote_office, call, dest)

    def _ring_remote_office(self, call: LineCall, dest: str) -> None:
        pbx, station = self.pbx, call.device
        ro_device, trunk = pbx.resolve(station, station.native_ro)
        if ro_device is None or not pbx.trunk_free():
            pbx.fire(call, T.DISCONNECT, LineDisconnectMode.CONGESTION)
            return
        pbx.fire(call, T.PROCEED)
        leg = pbx.new_leg(ro_device, outgoing=False, origin=LineCallOrigin.EXTERNAL,
                          reason=LineCallReason.DIRECT, trunk=trunk)
        # the RO phone is shown what a direct call from the desk shows (the claim, or a wrong_caller_id fault)
        leg.caller = pbx.presented("direct", station, pbx.party_of(station), ro_device)
        leg.called = PartyId(ro_device.number, ro_device.name)
        leg.dial_string = dest
        call.shadow, leg.shadow = leg, call
        pbx.fire(leg, T.OFFER, LineOfferingMode.ACTIVE)
        pbx.script(leg)
        if pbx.fault("native_target_first") is not None:
            self._native_remote_answered(leg)   # the destination rings while the RO phone still does

    def _native_remote_answered(self, leg: LineCall) -> None:
        pbx = self.pbx
        desk = leg.shadow
        if desk is None or pbx.fault("transfer_never_completes", route="native") is not None:
            return      # (the fault: the RO phone answered into nothing, the target is never called)
        target, trunk = pbx.resolve(desk.device, leg.dial_string)
        if target is None or (trunk and not pbx.trunk_free()):
            pbx.fire(desk, T.DISCONNECT, LineDisconnectMode.CONGESTION)
            return
        shown = pbx.presented("direct", desk.device, pbx.party_of(desk.device), target)
        far = pbx.offer(leg, target, trunk=trunk, shown=shown, reason=LineCallReason.DIRECT,
                        called=PartyId(target.number, target.name))
        if far is None:
            pbx.fire(desk, T.BUSY)
            return
        far.ro_route, far.ro_desk = "native", desk.device
        pbx.fire(desk, T.RINGBACK)
