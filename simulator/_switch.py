"""The switch: stations, a trunk group, the public network, routing, forwarding, transfers.

It knows nothing of TAPI handles or applications. It moves ``LineCall`` legs through the shared call
chart and tells its ``SwitchObserver`` (the provider) what happened. Everything that takes time is a
scheduler event, so a run is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from simulator._calls import Device, LineCall, PartyId
from simulator._callstates import CallMachine, CallTrigger, allowed_sources
from simulator._clock import Clock
from simulator._constants import (
    LineBusyMode,
    LineCallInfoState,
    LineCallOrigin,
    LineCallReason,
    LineConnectedMode,
    LineDialToneMode,
    LineDisconnectMode,
    LineForwardMode,
    LineOfferingMode,
)
from simulator._partyview import EXTERNAL_ROLES
from simulator._profile_model import ExternalParty, Fault, Profile

__all__ = ["Pbx", "SwitchObserver"]

T = CallTrigger


class SwitchObserver(Protocol):
    def call_created(self, call: LineCall) -> None: ...
    def call_state(self, call: LineCall, old: str, new: str) -> None: ...
    def call_info(self, call: LineCall, bits: int) -> None: ...
    def line_owned(self, device: Device) -> bool: ...


class Pbx:
    """The switch model of one profile."""

    def __init__(self, profile: Profile, clock: Clock, observer: SwitchObserver) -> None:
        self.profile = profile
        self.clock = clock
        self.observer = observer
        self.machine = CallMachine(after_state_change=self._after_change)
        self.devices: dict[str, Device] = {}
        self.stations: list[Device] = []
        fewer = profile.simulation.fault("fewer_trunks")
        self.trunks_total = fewer.channels if fewer is not None else profile.trunks   # what really exists
        self.trunks_in_use = 0
        self.trunks_peak = 0    # most channels in use at once (tests check "two trunks at the same time")
        self._call_ids = 0x1000
        self.on_remote_answer: Callable[[LineCall], None] | None = None   # native RO hook
        for st in profile.stations:
            dev = Device(st.extension, "station", st.name, business_number=st.business_number)
            self.devices[st.extension] = dev
            self.stations.append(dev)
        for ext in profile.externals:
            self.devices[ext.number] = self._external(ext)

    # ----- set-up -------------------------------------------------------------------------------
    def _external(self, ext: ExternalParty) -> Device:
        return Device(ext.number, "external", ext.name, behaviour=ext.behaviour,
                      answer_after_rings=ext.answer_after_rings)

    def device(self, number: str) -> Device:
        """The device for a number; unknown external numbers behave as ``default_external``."""
        dev = self.devices.get(number)
        if dev is None:
            d = self.profile.default_external
            dev = Device(number, "external", d.name, behaviour=d.behaviour,
                         answer_after_rings=d.answer_after_rings)
            self.devices[number] = dev
        return dev

    def station_by_business(self, number: str) -> Device | None:
        return next((s for s in self.stations if number in (s.business_number, s.number)), None)

    # ----- numbering ----------------------------------------------------------------------------
    def resolve(self, origin: Device, dial: str) -> tuple[Device | None, bool]:
        """Where ``dial`` (dialled at ``origin``) goes, and whether it needs a trunk channel."""
        dial = dial.strip().rstrip(";")
        if origin.is_station:
            if dial in self.devices and self.devices[dial].is_station:
                return self.devices[dial], False
            prefix = self.profile.pixit.dial_prefix
            if dial.startswith(prefix) and len(dial) > len(prefix):
                return self.device(dial[len(prefix):]), True
            if dial.startswith("+"):
                return self.device(dial), True
            return None, False
        station = self.station_by_business(dial)
        return station, station is not None

    def trunk_free(self) -> bool:
        return self.trunks_in_use < self.trunks_total

    def trunk_short(self, target: Device | None, trunk: bool) -> bool:
        """Would a leg to ``target`` (``trunk`` as from ``resolve``) need a channel that is not free?

        Only a leg at an external device takes a channel: a call coming in from the network already
        holds its own, so reaching a station from outside needs no second one.
        """
        return target is not None and trunk and not target.is_station and not self.trunk_free()

    def fault(self, kind: str, **where: object) -> Fault | None:
        return self.profile.simulation.fault(kind, **where)

    # ----- leg life cycle -----------------------------------------------------------------------
    def new_leg(self, device: Device, *, outgoing: bool, origin: int, reason: int, trunk: bool) -> LineCall:
        self._call_ids += 1
        call = LineCall(device, self._call_ids, origin=origin, reason=reason, outgoing=outgoing)
        call.entered_at = self.clock.now()
        if trunk:
            call.trunk = True
            self.trunks_in_use += 1
            self.trunks_peak = max(self.trunks_peak, self.trunks_in_use)
        device.calls.append(call)
        self.machine.add_model(call)
        self.observer.call_created(call)
        return call

    def fire(self, call: LineCall, trigger: CallTrigger, mode: int = 0) -> None:
        if call.state_name == "IDLE":
            return
        self.machine.fire(call, trigger, mode=mode)

    def can(self, call: LineCall, trigger: CallTrigger) -> bool:
        return call.state in allowed_sources(trigger)

    def _after_change(self, event: Any) -> None:
        call: LineCall = event.model
        call.mode = int(event.kwargs.get("mode", 0))
        call.entered_at = self.clock.now()
        old, new = event.transition.source, event.transition.dest
        if new == "DISCONNECTED":
            call.cancel_timers()   # whatever the call was waiting for (routing, rings) is moot now
        self.observer.call_state(call, old, new)
        if new == "IDLE":
            self._gone(call)

    def _gone(self, call: LineCall) -> None:
        call.cancel_timers()
        if call.trunk:
            call.trunk = False
            self.trunks_in_use -= 1
        if call in call.device.calls:
            call.device.calls.remove(call)
        peer = call.peer
        call.peer = None
        if peer is not None and peer.peer is call:
            peer.peer = None
            self._far_end_left(peer)
        call.consult_for = None
        shadow, call.shadow = call.shadow, None
        if shadow is not None and shadow.shadow is call:
            shadow.shadow = None
            self.release(shadow, lambda: self.fire(shadow, T.DROP))
        dev = call.device
        if dev.is_station and not dev.live_calls() and self.fault("desk_stays_off_hook") is None:
            dev.speaker_on = False
        if not call.handles:
            self.machine.remove_model(call)

    def release_model(self, call: LineCall) -> None:
        """Called by the provider when the last handle of an IDLE call is deallocated."""
        if call.state_name == "IDLE" and not call.handles:
            self.machine.remove_model(call)

    def later(self, call: LineCall, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        call.timers.append(self.clock.schedule(delay, self._guarded, call, fn, args))

    def _guarded(self, call: LineCall, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        if call.live:
            fn(*args)

    def _far_end_left(self, call: LineCall) -> None:
        """``call``'s peer went away: a phone nobody controls hangs up, a controlled one is told."""
        if call.live:
            self.release(call, lambda: self._far_end_gone(call))

    def _far_end_gone(self, call: LineCall) -> None:
        # Only an owner can clear a DISCONNECTED call (lineDrop); with no owner handle left (never
        # given, or deallocated) the switch clears it itself, or it would linger for ever.
        if call.has_owner:
            if call.state_name != "DISCONNECTED":
                self.fire(call, T.DISCONNECT, LineDisconnectMode.NORMAL)
        else:
            self.fire(call, T.DROP)

    def release(self, call: LineCall, end: Callable[[], None]) -> None:
        """End ``call`` with ``end``: now, or ``seconds`` later when party_release_delay names its party.

        A PBX (or the network behind its trunk) that is slow to release an external party's line keeps
        the call CONNECTED meanwhile, whichever side ended it: the party hung up (party control; lineDrop
        on its party line) or its far end left. Only a connected call lingers: a ringing one has no
        line to release yet.
        """
        late = self.fault("party_release_delay", role=self.role_of(call.device)) \
            if not call.device.is_station and call.state_name == "CONNECTED" else None
        if late is not None and late.seconds > 0:
            self.later(call, late.seconds, end)
        else:
            end()

    # ----- presentation -------------------------------------------------------------------------
    def role_of(self, device: Device) -> str:
        """The PIXIT role (remote_office, target, caller) ``device`` plays; "" for any other party."""
        pixit = self.profile.pixit
        return next((role for role in EXTERNAL_ROLES if getattr(pixit, role) == device.number), "")

    def presented(self, path: str, station: Device, original: PartyId, to: Device) -> PartyId:
        """The caller ID the external party ``to`` is shown on ``path`` (a CallerIdRules field)."""
        rule = getattr(self.profile.capabilities.caller_id, path)
        # a wrong_caller_id fault for this party's role, else one for every party of the path
        wrong = self.fault("wrong_caller_id", path=path, role=self.role_of(to)) or \
            self.fault("wrong_caller_id", path=path, role="")
        if wrong is not None:
            rule = wrong.shows
        if rule == "business":
            return PartyId(station.business_number, station.name)
        if rule == "extension":
            return PartyId(station.number, station.name)
        if rule == "withheld":
            return PartyId(blocked=True)
        return PartyId(original.number, original.name, original.blocked)

    def shown_party(self, field: str, party: PartyId) -> PartyId:
        """``party`` as LINECALLINFO presents it in block ``field`` (presentation_differs: name or number only)."""
        differs = self.fault("presentation_differs", field=field)
        if differs is None or party.blocked:
            return party
        if differs.shows == "name_only":
            return PartyId("", party.name)
        return PartyId(party.number, "")

    def redirecting_shown(self, station: Device, caller: LineCall, target: Device) -> PartyId:
        """The redirecting party a forward destination is shown (the station, unless a fault says otherwise)."""
        wrong = self.fault("wrong_redirecting_id")
        if wrong is None:
            return self.party_of(station)
        if wrong.shows == "withheld":
            return PartyId(blocked=True)
        if wrong.shows == "caller":
            return PartyId(caller.caller.number, caller.caller.name)
        return PartyId(target.number, target.name)

    def route_fault(self, kind: str, call: LineCall) -> Fault | None:
        """The fault of ``kind`` that acts on the Remote Office route ``call`` (a target's leg) came by: its
        ``route``, or every route when it names none. None for a leg that is no Remote Office target."""
        if not call.ro_route:
            return None
        return next((f for f in self.profile.simulation.faults
                     if f.kind == kind and f.route in ("", call.ro_route)), None)

    def connected_shown(self, call: LineCall) -> str:
        """The connected number a call's party is shown: its real far party, unless ``call`` is the target of
        a Remote Office call (transfer or native) on a route where wrong_connected_id shows something else."""
        peer = call.peer
        real = peer.device.number if peer is not None else ""
        wrong = self.route_fault("wrong_connected_id", call)
        station = call.ro_desk
        if wrong is None or station is None or not real:
            return real
        if wrong.shows == "withheld":
            return ""
        return station.business_number if wrong.shows == "business" else station.number

    @staticmethod
    def party_of(device: Device) -> PartyId:
        return PartyId(device.business_number or device.number, device.name)

    # ----- connecting legs ----------------------------------------------------------------------
    def offer(self, caller: LineCall, target: Device, *, trunk: bool, shown: PartyId, reason: int,
              called: PartyId, redirecting: PartyId | None = None) -> LineCall | None:
        """Alert ``target`` with a new leg joined to ``caller``; None when the target is busy."""
        if target.behaviour == "busy" or (target.is_station and target.live_calls()
                                           and not self._forward_entry(target, "BUSY")):
            return None
        origin = LineCallOrigin.EXTERNAL if trunk or not target.is_station else LineCallOrigin.INTERNAL
        far = self.new_leg(target, outgoing=False, origin=origin, reason=reason, trunk=trunk and not
                           target.is_station)
        far.caller = shown
        far.called = called
        if redirecting is not None:
            far.redirecting = redirecting
            far.redirection = PartyId(target.number, target.name)
        far.peer, caller.peer = caller, far
        self.fire(far, T.OFFER, LineOfferingMode.ACTIVE)
        self.script(far)
        return far

    def script(self, far: LineCall) -> None:
        """Scripted behaviour of an external party nobody controls through TAPI."""
        dev = far.device
        if dev.is_station or self.observer.line_owned(dev):
            return
        period = self.profile.simulation.timing.ring_period
        if dev.behaviour == "answer":
            self.later(far, max(dev.answer_after_rings, 0) * period, self.answer, far)
        elif dev.behaviour == "reject":
            self.later(far, period, self.reject, far)
        else:
            self.later(far, self.profile.simulation.timing.no_answer_timeout, self.no_answer, far)

    def answer(self, call: LineCall) -> None:
        """``call`` (an alerting leg) is answered; its peer gets connected."""
        if call.pending is not None:
            pending, call.pending = call.pending, None
            pending()
            return
        call.cancel_timers()
        self.fire(call, T.ANSWER, LineConnectedMode.ACTIVE)
        peer = call.peer
        if peer is not None:
            # The answering leg learns whom it talks to (LINECALLINFO dwConnectedID): the same number the
            # party is shown (connected_shown, where wrong_connected_id acts), so a TAPI party line sees it too.
            call.connected = PartyId(self.connected_shown(call), "")
            self.observer.call_info(call, LineCallInfoState.CONNECTEDID)
            if call.ro_route == "native" and self.route_fault("transfer_drops_remote", call) is not None:
                # The PBX loses the RO leg as the target answers (the desk appearance it mirrors goes too):
                # the target talks to nobody, as after the transfer routes' transfer_drops_remote.
                peer.peer = None
                self.fire(peer, T.DROP)
                return
            self._connected(peer, call)
        elif call.shadow is not None and call.shadow.live and self.on_remote_answer is not None:
            self.on_remote_answer(call)

    def _connected(self, near: LineCall, far: LineCall) -> None:
        near.connected = PartyId(far.device.number, far.device.name)
        if self.can(near, T.CONNECT):
            self.fire(near, T.CONNECT, LineConnectedMode.ACTIVE)
        self.observer.call_info(near, LineCallInfoState.CONNECTEDID)
        desk = near.shadow
        if desk is not None and far is not desk and far.state_name == "CONNECTED" \
                and desk.state_name in ("PROCEEDING", "RINGBACK"):
            desk.connected = PartyId(far.device.number, far.device.name)
            self.fire(desk, T.CONNECT, LineConnectedMode.ACTIVE)

    def reject(self, call: LineCall) -> None:
        peer = call.peer
        call.peer = None
        self.fire(call, T.DROP)
        if peer is not None:
            peer.peer = None
            self.fire(peer, T.DISCONNECT, LineDisconnectMode.REJECT)

    def no_answer(self, call: LineCall) -> None:
        peer = call.peer
        call.peer = None
        self.fire(call, T.DROP)
        if peer is not None:
            peer.peer = None
            self.fire(peer, T.DISCONNECT, LineDisconnectMode.NOANSWER)

    def drop(self, call: LineCall) -> None:
        """Clear ``call`` (lineDrop / hang up); its peer is told the far end left."""
        self.fire(call, T.DROP)

    # ----- forwarding ---------------------------------------------------------------------------
    def _forward_entry(self, station: Device, kind: str) -> Any:
        mode = LineForwardMode[kind]
        ignored = self.fault("forward_not_routed")
        if ignored is not None and (not ignored.modes or kind in ignored.modes):
            return None   # stored and reported, but not applied to routing
        for entry in station.forwarding:
            if entry.forward_mode & mode and entry.dest_address:
                return entry
        return None

    def route_incoming(self, caller: LineCall, station: Device, trunk: bool) -> LineCall | None:
        """A call for ``station`` arrives: native RO, forwarding or ringing the desk phone."""
        called = PartyId(station.business_number if trunk else station.number, station.name)
        if station.native_ro and self.fault("native_not_applied") is None:
            return self._forward(caller, station, station.native_ro, LineCallReason.DIRECT, called)
        entry = self._forward_entry(station, "UNCOND")
        if entry is None and station.live_calls():
            entry = self._forward_entry(station, "BUSY")
            if entry is not None:
                return self._forward(caller, station, entry.dest_address, LineCallReason.FWDBUSY, called)
        if entry is not None:
            if self.profile.capabilities.forwarding and \
                    self.profile.capabilities.forwarding.desk_sees_forwarded_call == "offering_disconnected":
                self._ghost_offer(station, caller.caller, called)
            return self._forward(caller, station, entry.dest_address, LineCallReason.FWDUNCOND, called)
        leg = self.offer(caller, station, trunk=trunk, shown=caller.caller, reason=LineCallReason.DIRECT,
                         called=called)
        noansw = self._forward_entry(station, "NOANSW")
        if leg is not None and noansw is not None:
            rings = station.num_rings_no_answer or 3
            period = self.profile.simulation.timing.ring_period
            self.later(leg, rings * period, self._forward_no_answer, leg, noansw.dest_address, called)
        return leg

    def _ghost_offer(self, station: Device, shown: PartyId, called: PartyId) -> None:
        ghost = self.new_leg(station, outgoing=False, origin=LineCallOrigin.EXTERNAL,
                             reason=LineCallReason.DIRECT, trunk=False)
        ghost.caller, ghost.called = shown, called
        self.fire(ghost, T.OFFER, LineOfferingMode.ACTIVE)
        self.fire(ghost, T.DISCONNECT, LineDisconnectMode.FORWARDED)
        if not ghost.has_owner:
            self.fire(ghost, T.DROP)

    def _forward_no_answer(self, leg: LineCall, dest: str, called: PartyId) -> None:
        caller = leg.peer
        leg.peer = None
        self.fire(leg, T.DISCONNECT, LineDisconnectMode.FORWARDED)
        if not leg.has_owner:
            self.fire(leg, T.DROP)
        if caller is not None and caller.live:
            self._forward(caller, leg.device, dest, LineCallReason.FWDNOANSWER, called)

    def _forward(self, caller: LineCall, station: Device, dest: str, reason: int,
                 called: PartyId) -> LineCall | None:
        target, trunk = self.resolve(station, dest)
        if target is None:
            self.fire(caller, T.BUSY, LineBusyMode.UNKNOWN)
            return None
        if trunk and not self.trunk_free():
            self._congestion(caller)
            return None
        shown = self.presented("forwarded", station, caller.caller, target)
        if self.fault("wrong_reason") is not None:
            reason = LineCallReason.DIRECT
        far = self.offer(caller, target, trunk=trunk, shown=shown, reason=reason, called=called,
                         redirecting=self.redirecting_shown(station, caller, target))
        if far is None:
            self.fire(caller, T.BUSY, LineBusyMode.STATION)
        return far

    # ----- origination --------------------------------------------------------------------------
    def progress(self, call: LineCall, dial: str, path: str = "direct") -> None:
        """Dial ``dial`` on ``call`` (which has dial tone or is new) and let the call progress."""
        call.dial_string = dial
        call.called = PartyId(dial)
        timing = self.profile.simulation.timing
        call.cancel_timers()   # dialling again (lineDial while DIALING) replaces the pending routing
        self.fire(call, T.DIAL)
        self.later(call, timing.dial, self._route_outgoing, call, dial, path)

    def _route_outgoing(self, call: LineCall, dial: str, path: str) -> None:
        target, trunk = self.resolve(call.device, dial)
        if target is None or target is call.device:
            self.fire(call, T.DISCONNECT, LineDisconnectMode.BADADDRESS)
            return
        if self.trunk_short(target, trunk):
            self._congestion(call)
            return
        if self.profile.simulation.proceeding_state:
            self.fire(call, T.PROCEED)
        delay = self.profile.simulation.timing.proceeding
        self.later(call, delay, self._alert_far, call, target, trunk, path)

    def _congestion(self, call: LineCall) -> None:
        if self.profile.simulation.trunk_exhaustion == "disconnected":
            self.fire(call, T.DISCONNECT, LineDisconnectMode.CONGESTION)
        else:
            self.fire(call, T.BUSY, LineBusyMode.TRUNK)

    def _alert_far(self, call: LineCall, target: Device, trunk: bool, path: str) -> None:
        if self.trunk_short(target, trunk):
            self._congestion(call)
            return
        station = call.device
        if station.is_station:
            shown = self.presented(path, station, self.party_of(station), target) if trunk else \
                PartyId(station.number, station.name)
            called = PartyId(target.number, target.name)
            far = self.offer(call, target, trunk=trunk, shown=shown, reason=LineCallReason.DIRECT,
                             called=called)
        else:
            far = self.route_incoming(call, target, trunk)
            if not call.live or call.state_name in ("BUSY", "DISCONNECTED"):   # congestion already shown
                return
        if far is None:
            if call.state_name != "BUSY":
                self.fire(call, T.BUSY, LineBusyMode.STATION)
            return
        self.fire(call, T.RINGBACK)

    # ----- supplementary services ---------------------------------------------------------------
    def blind_transfer(self, call: LineCall, dial: str) -> None:
        """The switch takes ``call``'s far party to ``dial``; ``call`` leaves the address."""
        remote = call.peer
        target, trunk = self.resolve(call.device, dial)
        never = self.fault("transfer_never_completes", route="blind")
        call.peer = None
        if remote is not None:
            remote.peer = None
        if self.fault("desk_call_lingers", route="blind") is None:
            self.fire(call, T.TRANSFERRED)
        if remote is None or target is None or never is not None:
            return
        # The transferred party's own number ("remote"/"caller" rules), not the caller ID it was shown.
        shown = self.presented("blind_transfer", call.device, PartyId(remote.device.number, remote.device.name),
                               target)
        if not trunk:   # an internal target sees the transferring extension
            shown = PartyId(call.device.number, call.device.name)
        self._offer_transferred("blind", remote, call.device, target, trunk, shown)

    def _after_transfer(self, route: str, remote: LineCall, far: LineCall, station: Device) -> None:
        """Transfer faults that act once the target is alerted: the remote leg is lost, or it recalls."""
        if self.fault("transfer_drops_remote", route=route) is not None:
            remote.peer = None   # the target still rings and answers, but into nobody
            self.fire(remote, T.DROP)
        recall = self.fault("transfer_recall", route=route)
        if recall is not None:
            self.later(far, recall.seconds, self._recall, far, station)

    def _recall(self, far: LineCall, station: Device) -> None:
        """The transfer target did not answer in time: the call comes back to the desk phone."""
        if far.state_name not in ("OFFERING", "ACCEPTED"):
            return
        remote = far.peer
        far.peer = None
        self.fire(far, T.DROP)
        if remote is not None and remote.live:
            remote.peer = None
            self.offer(remote, station, trunk=False, shown=remote.caller if remote.caller.number else
                       self.party_of(remote.device), reason=LineCallReason.TRANSFER,
                       called=PartyId(station.number, station.name))

    def setup_transfer(self, call: LineCall) -> LineCall:
        """Put ``call`` on consultation hold and make a consultation leg (not yet reported)."""
        consult = self.new_leg(call.device, outgoing=True, origin=LineCallOrigin.OUTBOUND,
                               reason=LineCallReason.DIRECT, trunk=False)
        consult.consult_for = call
        consult.related_call_id = call.call_id
        return consult

    def start_consult(self, call: LineCall, consult: LineCall) -> None:
        # setup_transfer_holds: plain ONHOLD, as some TSPs report (MS docs: the original call "typically" goes
        # onHoldPendingTransfer; lineCompleteTransfer takes either). consult_without_dialtone: the consultation
        # call stays unreported until lineDial takes it to DIALING (its state "is not applicable" after setup).
        self.fire(call, T.HOLD if self.fault("setup_transfer_holds") is not None else T.HOLD_PEND_TRANSFER)
        if self.fault("consult_without_dialtone") is None:
            self.fire(consult, T.DIALTONE, LineDialToneMode.INTERNAL)

    def complete_transfer(self, call: LineCall, consult: LineCall) -> None:
        """Join ``call``'s party with ``consult``'s far party; both local legs leave the address."""
        remote, target = call.peer, consult.peer
        never = self.fault("transfer_never_completes", route="consult")
        # completed while PROCEEDING: the far end is not alerted yet, the switch goes on to it for the remote
        onward = consult.dial_string if target is None and consult.state_name == "PROCEEDING" else ""
        call.peer = consult.peer = None
        consult.consult_for = None
        if never is not None and remote is not None:
            remote.peer = None   # dead air: the remote party stays up but is joined to nobody
            remote = None
        if remote is not None and target is not None:
            remote.peer, target.peer = target, remote
            station = call.device
            original = PartyId(remote.device.number, remote.device.name)
            target.caller = self.presented("consult_transfer", station, original, target.device)
            target.redirecting = self.party_of(station)
            target.reason = LineCallReason.TRANSFER
            target.ro_route, target.ro_desk = "consult", station
            self.observer.call_info(target, LineCallInfoState.CALLERID | LineCallInfoState.REDIRECTINGID
                                    | LineCallInfoState.REASON)
            if target.state_name == "CONNECTED":
                remote.connected = PartyId(target.device.number, target.device.name)
                target.connected = PartyId(self.connected_shown(target), "")   # now talks to the remote
                self.observer.call_info(target, LineCallInfoState.CONNECTEDID)
            else:
                self._after_transfer("consult", remote, target, call.device)
        elif target is not None:
            target.peer = None
            self._far_end_left(target)
        lingers = self.fault("desk_call_lingers", route="consult")
        stays = (lingers.call or "both") if lingers is not None else "none"   # which desk call(s) stay behind
        if stays not in ("consultation", "both"):
            self.fire(consult, T.TRANSFERRED)
        if stays not in ("held", "both"):
            self.fire(call, T.TRANSFERRED)
        if remote is not None and target is None and onward:
            self._transfer_onward(remote, call.device, onward)
        elif remote is not None and target is None:
            remote.peer = None
            self._far_end_left(remote)

    def _transfer_onward(self, remote: LineCall, station: Device, dial: str) -> None:
        """A transfer completed before the consultation's far end rang: alert it now, for ``remote``."""
        target, trunk = self.resolve(station, dial)
        remote.peer = None
        if target is None or self.trunk_short(target, trunk):
            self.fire(remote, T.DISCONNECT, LineDisconnectMode.CONGESTION if target is not None
                      else LineDisconnectMode.BADADDRESS)
            return
        shown = self.presented("consult_transfer", station, PartyId(remote.device.number, remote.device.name),
                               target)
        self._offer_transferred("consult", remote, station, target, trunk, shown)

    def _offer_transferred(self, route: str, remote: LineCall, station: Device, target: Device, trunk: bool,
                           shown: PartyId) -> None:
        """Alert ``target`` for ``remote``, handed over by ``station`` on ``route``; a busy target ends it."""
        far = self.offer(remote, target, trunk=trunk, shown=shown, reason=LineCallReason.TRANSFER,
                         called=PartyId(target.number, target.name), redirecting=self.party_of(station))
        if far is None:
            self.fire(remote, T.DISCONNECT, LineDisconnectMode.BUSY)
            return
        far.ro_route, far.ro_desk = route, station
        self._after_transfer(route, remote, far, station)

    def cancel_consult(self, call: LineCall) -> None:
        """The held call comes back (lineUnhold / AUTORECONNECT): its consultation leg is cleared."""
        for consult in list(call.device.calls):
            if consult.consult_for is call:
                consult.consult_for = None
                self.fire(consult, T.DROP)
        if call.state_name in ("ONHOLDPENDTRANSFER", "ONHOLD"):
            self.fire(call, T.UNHOLD, LineConnectedMode.ACTIVE)

    def consult_dropped_for(self, held: LineCall) -> None:
        """A consultation call was dropped: AUTORECONNECT brings the held call back (plain ONHOLD too, where
        setup_transfer_holds put it there: it is the same held call of a pending transfer)."""
        if held.state_name in ("ONHOLDPENDTRANSFER", "ONHOLD"):
            self.fire(held, T.UNHOLD, LineConnectedMode.ACTIVE)

    def redirect(self, call: LineCall, dial: str) -> None:
        caller = call.peer
        call.peer = None
        if caller is not None:
            caller.peer = None
        self.fire(call, T.REDIRECT)
        if caller is None:
            return
        target, trunk = self.resolve(call.device, dial)
        if target is None or (trunk and not self.trunk_free()):
            self.fire(caller, T.DISCONNECT, LineDisconnectMode.UNAVAIL)
            return
        shown = self.presented("forwarded", call.device, caller.caller, target)
        far = self.offer(caller, target, trunk=trunk, shown=shown, reason=LineCallReason.REDIRECT,
                         called=call.called, redirecting=self.party_of(call.device))
        if far is None:
            self.fire(caller, T.DISCONNECT, LineDisconnectMode.BUSY)
