"""The asynchronous TAPI call-control functions, forwarding, lineDevSpecific, and the query builders.

``Provider`` = the plumbing of ``_provider_core`` + these functions. Each function checks what TAPI
checks up front (handle, privilege, state, parameters) and raises ``LineError`` synchronously;
otherwise it returns a request id and the switch acts when the request
is processed (after the profile's latency), re-checking the state it finds then.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simulator._calls import OWNER, Device, LineCall, PartyId
from simulator._callstates import CallTrigger, allowed_sources
from simulator._caps import REPORTED_CALL_STATES, completion_states, forward_mode_mask
from simulator._constants import (
    LineAddressMode,
    LineBearerMode,
    LineCallOrigin,
    LineCallParamFlags,
    LineCallReason,
    LineConnectedMode,
    LineDisconnectMode,
    LineErr,
    LineMediaMode,
    LineMsg,
)
from simulator._constants import LineAddressState as AS
from simulator._constants import LineAddrFeature as AF
from simulator._constants import LineCallState as S
from simulator._constants import LineTransferMode as TM
from simulator._errors import LineError
from simulator._origination import Origination
from simulator._provider_core import Handle, Line, ProviderCore, tapi
from simulator._structs import LineAddressStatus, LineCallInfo, LineCallParams, LineForward

__all__ = ["Provider"]

Work = Callable[[], tuple[int, Callable[[], None] | None, int, bytes]]
_DIALABLE = re.compile(r"^[0-9A-Da-d*#+,;!@$WwPpTt ]*$")


class Provider(ProviderCore):
    """A TAPI 2.x service provider in front of one simulated PBX."""

    _origination: Origination | None = None

    def _orig(self) -> Origination:
        if self._origination is None:
            self._origination = Origination(self.pbx)
        return self._origination

    # ----- shared checks ---------------------------------------------------------------------
    def _owned(self, h_call: int, function: str, trigger: CallTrigger | None = None) -> Handle:
        h = self.handle(h_call, function, owner=True)
        if trigger is not None and h.call.state not in allowed_sources(trigger):
            raise LineError(LineErr.INVALCALLSTATE, function, f"call is {h.call.state_name}")
        return h

    @staticmethod
    def _dialable(dest: str | None, function: str) -> str:
        if dest is None or not _DIALABLE.match(dest) or not dest.strip():
            raise LineError(LineErr.INVALADDRESS, function, f"not a dialable address: {dest!r}")
        return dest.strip()

    def _trunk_short(self, device: Device, dest: str) -> bool:
        target, trunk = self.pbx.resolve(device, dest)
        return self.pbx.trunk_short(target, trunk)

    def _refuse_if_short(self, device: Device, dest: str, function: str) -> None:
        """trunk_exhaustion: refused - no free channel for ``dest`` now: the request is refused up front.

        lineMakeCall, lineDial and lineBlindTransfer return "a negative error number if an error occurs"
        (MS docs), LINEERR_RESOURCEUNAVAIL among them: a TSP may refuse at once, with no request id and so
        no LINE_REPLY. A channel taken after the request was accepted still shows at routing time."""
        if self.profile.simulation.trunk_exhaustion == "refused" and self._trunk_short(device, dest):
            raise LineError(LineErr.RESOURCEUNAVAIL, function, "every trunk channel is in use")

    def _state_work(self, call: LineCall, states: tuple[S, ...], commit: Callable[[], None]) -> Work:
        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            if call.state not in states:
                return LineErr.INVALCALLSTATE, None, 0, b""
            return 0, commit, 0, b""
        return work

    # ----- origination -----------------------------------------------------------------------
    @tapi("lineMakeCall", "line")
    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int:
        fn = "lineMakeCall"
        line = self.line(h_line, fn)
        if not line.in_service:
            raise LineError(LineErr.INVALLINESTATE, fn, "line is out of service")
        params = call_params
        if params is not None and params.address_mode == LineAddressMode.ADDRESSID and params.address_id != 0:
            raise LineError(LineErr.INVALADDRESSID, fn, f"address {params.address_id} of 1")
        dest = self._dialable(dest_address, fn) if dest_address not in (None, "", ";") else None
        dev = line.device
        if any(c.state not in (S.ONHOLD, S.ONHOLDPENDTRANSFER, S.DISCONNECTED) for c in dev.live_calls()):
            raise LineError(LineErr.CALLUNAVAIL, fn, "the address already has an active call")
        rejected = dev.is_station and self.profile.capabilities.origination == "reject"   # refused as ever, in work
        if dest is not None and not dev.native_ro and not rejected:
            self._refuse_if_short(dev, dest, fn)
        return self.request(line, line.app, fn, self._make_call_work(line, dest_address, call_params),
                            existing_call=False)

    def _make_call_work(self, line: Line, dest: str | None, params: LineCallParams | None) -> Work:
        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            dev = line.device
            if dev.is_station and self.profile.capabilities.origination == "reject":
                return LineErr.OPERATIONFAILED, None, 0, b""
            if dest and not dev.native_ro and self._trunk_short(dev, dest) and \
                    self.profile.simulation.trunk_exhaustion == "reply_error":
                return LineErr.RESOURCEUNAVAIL, None, 0, b""
            if not dev.is_station and not self.pbx.trunk_free():
                return LineErr.RESOURCEUNAVAIL, None, 0, b""   # no channel for a call from the network
            call = self._create(line, outgoing=True)
            call.app_name = line.app.name
            if params is not None:
                call.media_mode = params.media_mode or call.media_mode
            h = self.new_handle(call, line, OWNER)
            asked = params is not None and bool(params.call_param_flags & LineCallParamFlags.ORIGOFFHOOK)
            return 0, lambda: self._orig().start(call, dest, origoffhook=asked), h, b""
        return work

    def _create(self, line: Line, outgoing: bool) -> LineCall:
        self._creating_for = line.app
        try:
            trunk = not line.device.is_station
            return self.pbx.new_leg(line.device, outgoing=outgoing, origin=LineCallOrigin.OUTBOUND,
                                    reason=LineCallReason.DIRECT, trunk=trunk)
        finally:
            self._creating_for = None

    @tapi("lineDial", "call")
    def line_dial(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        fn = "lineDial"
        h = self._owned(h_call, fn)
        dialable = self._dialable_states(h.call)
        if h.call.state not in dialable:
            raise LineError(LineErr.INVALCALLSTATE, fn, f"call is {h.call.state_name}")
        dest = self._dialable(dest_address, fn)
        call = h.call
        self._refuse_if_short(call.device, dest, fn)

        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            if call.state not in dialable:
                return LineErr.INVALCALLSTATE, None, 0, b""
            if self._trunk_short(call.device, dest) and self.profile.simulation.trunk_exhaustion == "reply_error":
                return LineErr.RESOURCEUNAVAIL, None, 0, b""
            return 0, lambda: self.pbx.progress(call, dest), 0, b""
        return self.request(h.line, h.line.app, fn, work)

    def _dialable_states(self, call: LineCall) -> tuple[S, ...]:
        """Where lineDial is accepted: dial tone or dialling; also a consultation call that consult_without_dialtone
        leaves unreported (TAPI allows lineDial in any state but IDLE / DISCONNECTED; that PBX expects it there)."""
        if call.consult_for is not None and self.pbx.fault("consult_without_dialtone") is not None:
            return S.UNKNOWN, S.DIALTONE, S.DIALING
        return S.DIALTONE, S.DIALING

    # ----- answer, drop, hold ----------------------------------------------------------------
    @tapi("lineAnswer", "call")
    def line_answer(self, h_call: int) -> int:
        h = self._owned(h_call, "lineAnswer", CallTrigger.ANSWER)
        call = h.call
        return self.request(h.line, h.line.app, "lineAnswer",
                            self._state_work(call, (S.OFFERING, S.ACCEPTED), lambda: self.pbx.answer(call)))

    @tapi("lineDrop", "call")
    def line_drop(self, h_call: int) -> int:
        h = self._owned(h_call, "lineDrop", CallTrigger.DROP)
        call = h.call

        def end() -> None:
            held = call.consult_for
            if self.pbx.fault("call_never_idle") is not None:   # dropped, but never reaches IDLE
                if call.state_name != "DISCONNECTED":
                    self.pbx.fire(call, CallTrigger.DISCONNECT, LineDisconnectMode.NORMAL)
                return
            self.pbx.drop(call)
            if held is not None:
                self.pbx.consult_dropped_for(held)
        live = tuple(s for s in S if s != S.IDLE)
        # lineDrop on an external party's line (the tapi32 backend's party lines) is that party hanging up:
        # party_release_delay keeps it CONNECTED a while, as party control's hang_up does on the simulator.
        return self.request(h.line, h.line.app, "lineDrop",
                            self._state_work(call, live, lambda: self.pbx.release(call, end)))

    @tapi("lineHold", "call")
    def line_hold(self, h_call: int) -> int:
        h = self._owned(h_call, "lineHold", CallTrigger.HOLD)
        call = h.call
        return self.request(h.line, h.line.app, "lineHold",
                            self._state_work(call, (S.CONNECTED,),
                                             lambda: self.pbx.fire(call, CallTrigger.HOLD)))

    @tapi("lineUnhold", "call")
    def line_unhold(self, h_call: int) -> int:
        h = self._owned(h_call, "lineUnhold", CallTrigger.UNHOLD)
        call = h.call
        return self.request(h.line, h.line.app, "lineUnhold",
                            self._state_work(call, (S.ONHOLD, S.ONHOLDPENDTRANSFER),
                                             lambda: self.pbx.cancel_consult(call)))

    @tapi("lineSwapHold", "call")
    def line_swap_hold(self, h_active_call: int, h_held_call: int) -> int:
        fn = "lineSwapHold"
        active = self._owned(h_active_call, fn)
        held = self.handle(h_held_call, fn, owner=True)
        a, b = active.call, held.call
        if a.state != S.CONNECTED or b.state not in (S.ONHOLD, S.ONHOLDPENDTRANSFER) or a.device is not b.device:
            raise LineError(LineErr.INVALCALLSTATE, fn, f"active {a.state_name}, held {b.state_name}")

        def commit() -> None:
            # a pending transfer swaps roles: the consultation call becomes the held one (plain ONHOLD where
            # setup_transfer_holds holds that way, so the held call keeps its kind of hold)
            pend = b.state == S.ONHOLDPENDTRANSFER or a.consult_for is b
            self.pbx.fire(a, CallTrigger.HOLD_PEND_TRANSFER if b.state == S.ONHOLDPENDTRANSFER else CallTrigger.HOLD)
            self.pbx.fire(b, CallTrigger.UNHOLD, LineConnectedMode.ACTIVE)
            if pend:
                a.consult_for, b.consult_for = None, a
        return self.request(active.line, active.line.app, fn, self._state_work(a, (S.CONNECTED,), commit))

    # ----- transfers ---------------------------------------------------------------------------
    @tapi("lineBlindTransfer", "call")
    def line_blind_transfer(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        fn = "lineBlindTransfer"
        h = self._owned(h_call, fn)
        if not self.profile.capabilities.transfer.blind or not h.call.device.is_station:
            raise LineError(LineErr.OPERATIONUNAVAIL, fn, "the switch has no blind transfer")
        if h.call.state != S.CONNECTED:
            raise LineError(LineErr.INVALCALLSTATE, fn, f"call is {h.call.state_name}")
        dest = self._dialable(dest_address, fn)
        call = h.call
        self._refuse_if_short(call.device, dest, fn)

        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            if call.state != S.CONNECTED:
                return LineErr.INVALCALLSTATE, None, 0, b""
            if self.pbx.resolve(call.device, dest)[0] is None:
                return LineErr.INVALADDRESS, None, 0, b""
            if self._trunk_short(call.device, dest):
                return LineErr.RESOURCEUNAVAIL, None, 0, b""
            return 0, lambda: self.pbx.blind_transfer(call, dest), 0, b""
        return self.request(h.line, h.line.app, fn, work)

    @tapi("lineSetupTransfer", "call")
    def line_setup_transfer(self, h_call: int, call_params: LineCallParams | None = None) -> int:
        fn = "lineSetupTransfer"
        h = self._owned(h_call, fn)
        if not self.profile.capabilities.transfer.consultation or not h.call.device.is_station:
            raise LineError(LineErr.OPERATIONUNAVAIL, fn, "the switch has no consultation transfer")
        if h.call.state != S.CONNECTED or h.call.consult_for is not None:
            raise LineError(LineErr.INVALCALLSTATE, fn, f"call is {h.call.state_name}")
        call, line = h.call, h.line

        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            if call.state != S.CONNECTED:
                return LineErr.INVALCALLSTATE, None, 0, b""
            self._creating_for = line.app
            try:
                consult = self.pbx.setup_transfer(call)
            finally:
                self._creating_for = None
            consult.caller = PartyId(call.device.number, call.device.name)
            h_consult = self.new_handle(consult, line, OWNER)
            return 0, lambda: self.pbx.start_consult(call, consult), h_consult, b""
        return self.request(line, line.app, fn, work, existing_call=False)

    @tapi("lineCompleteTransfer", "call")
    def line_complete_transfer(self, h_call: int, h_consult_call: int, transfer_mode: int) -> int:
        fn = "lineCompleteTransfer"
        h = self._owned(h_call, fn)
        if transfer_mode not in (TM.TRANSFER, TM.CONFERENCE):
            raise LineError(LineErr.INVALTRANSFERMODE, fn, f"mode 0x{transfer_mode:X}")
        if transfer_mode != TM.TRANSFER or not self.profile.capabilities.transfer.consultation:
            raise LineError(LineErr.INVALTRANSFERMODE, fn, "only LINETRANSFERMODE_TRANSFER is supported")
        consult_h = self.handle(h_consult_call, fn, owner=True, code=LineErr.INVALCONSULTCALLHANDLE)
        call, consult = h.call, consult_h.call
        if call.state not in (S.ONHOLDPENDTRANSFER, S.ONHOLD):
            raise LineError(LineErr.INVALCALLSTATE, fn, f"held call is {call.state_name}")
        if consult.state not in (S.CONNECTED, S.RINGBACK, S.BUSY, S.PROCEEDING) or consult.consult_for is not call:
            raise LineError(LineErr.INVALCALLSTATE, fn, f"consultation call is {consult.state_name}")
        allowed = completion_states(self.profile)
        refused = self.pbx.fault("transfer_refused_in")
        if refused is not None:   # claims completion in these states, refuses it there
            allowed = frozenset(st for st in allowed if str(st.name).lower() not in refused.states)

        def work() -> tuple[int, Callable[[], None] | None, int, bytes]:
            if consult.state not in allowed or call.state not in (S.ONHOLDPENDTRANSFER, S.ONHOLD):
                return LineErr.INVALCALLSTATE, None, 0, b""
            return 0, lambda: self.pbx.complete_transfer(call, consult), 0, b""
        return self.request(h.line, h.line.app, fn, work)

    @tapi("lineRedirect", "call")
    def line_redirect(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        """Deflect an OFFERING call unanswered; any other state (ACCEPTED too) is LINEERR_INVALCALLSTATE,
        up front or in the LINE_REPLY if the call moved meanwhile (docs/tapi.md §4;
        https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-lineredirectw)."""
        fn = "lineRedirect"
        h = self._owned(h_call, fn, CallTrigger.REDIRECT)
        dest = self._dialable(dest_address, fn)
        call = h.call
        return self.request(h.line, h.line.app, fn,
                            self._state_work(call, (S.OFFERING,), lambda: self.pbx.redirect(call, dest)))

    # ----- forwarding --------------------------------------------------------------------------
    @tapi("lineForward", "line")
    def line_forward(self, h_line: int, all_addresses: bool, address_id: int,
                     forward_list: tuple[LineForward, ...] | None, num_rings_no_answer: int = 0) -> int:
        fn = "lineForward"
        line = self.line(h_line, fn)
        fwd = self.profile.capabilities.forwarding
        if fwd is None or not line.device.is_station:
            raise LineError(LineErr.OPERATIONUNAVAIL, fn, "the switch has no forwarding for this line")
        if not all_addresses and address_id != 0:
            raise LineError(LineErr.INVALADDRESSID, fn, f"address {address_id} of 1")
        entries = tuple(forward_list or ())
        if not entries and not fwd.clear:
            raise LineError(LineErr.OPERATIONUNAVAIL, fn, "the switch cannot cancel forwarding (forwarding.clear)")
        if len(entries) > fwd.max_entries:
            raise LineError(LineErr.INVALPARAM, fn, f"{len(entries)} entries, at most {fwd.max_entries}")
        allowed = forward_mode_mask(fwd)
        for e in entries:
            mode = int(e.forward_mode)
            if mode == 0 or mode & (mode - 1) or not mode & allowed:
                raise LineError(LineErr.INVALPARAM, fn, f"forward mode 0x{mode:X} not supported")
            if e.dest_address:
                self._dialable(e.dest_address, fn)
        device = line.device

        def commit() -> None:
            kept = (self.pbx.fault("forward_not_stored") is not None
                    or (not entries and self.pbx.fault("forward_clear_ignored") is not None))
            if not kept:   # either fault: LINE_REPLY 0 and the old list stays
                device.forwarding = entries
                device.num_rings_no_answer = num_rings_no_answer
            if fwd.status_events and self.pbx.fault("no_forward_events") is None:
                self.address_changed(device, AS.FORWARD)
        return self.request(line, line.app, fn, lambda: (0, commit, 0, b""))

    # ----- native Remote Office ----------------------------------------------------------------
    @tapi("lineDevSpecific", "line")
    def line_dev_specific(self, h_line: int, address_id: int, h_call: int, params: bytes) -> int:
        fn = "lineDevSpecific"
        line = self.line(h_line, fn)
        native = self.profile.capabilities.native_remote_office
        if native.mechanism != "devspecific" or line.ext_version != native.ext_version:
            raise LineError(LineErr.OPERATIONUNAVAIL, fn, "no extension version negotiated at lineOpen")
        if address_id != 0:
            raise LineError(LineErr.INVALADDRESSID, fn, f"address {address_id} of 1")
        # hCall is optional (0), but when given it must be a call of this line (docs/tapi.md §4)
        if h_call and self.handle(h_call, fn).line is not line:
            raise LineError(LineErr.INVALCALLHANDLE, fn, f"call 0x{h_call:08X} is not on line 0x{h_line:08X}")
        text = bytes(params).rstrip(b"\0").decode("ascii", "replace")
        number = self._parse_native(text)
        if number is None:
            raise LineError(LineErr.INVALPARAM, fn, f"unknown device-specific request {text[:40]!r}")
        device = line.device

        def commit() -> None:
            device.native_ro = number
            if self.pbx.fault("no_devspecific_events") is not None:
                return      # switched, but no application is told (LINE_DEVSPECIFIC never comes)
            for ln in self.open_lines(device):
                if ln.ext_version == native.ext_version:
                    self.post(ln.app, LineMsg.DEVSPECIFIC, ln.handle, native.event_param1, 1 if number else 0,
                              instance=ln.instance)
        return self.request(line, line.app, fn, lambda: (0, commit, 0, bytes(params)))

    def _parse_native(self, text: str) -> str | None:
        native = self.profile.capabilities.native_remote_office
        if text == native.deactivate:
            return ""
        head, _, tail = native.activate.partition("{number}")
        if text.startswith(head) and text.endswith(tail) and len(text) > len(head) + len(tail):
            number = text[len(head):len(text) - len(tail)]
            return number if _DIALABLE.match(number) else None
        return None

    # ----- structures ---------------------------------------------------------------------------
    def address_status(self, device: Device) -> LineAddressStatus:
        calls = device.live_calls()
        fwd = self.profile.capabilities.forwarding
        queryable = fwd is not None and fwd.query and self.pbx.fault("forward_query_empty") is None
        features = AF.MAKECALL | ((AF.FORWARD | AF.FORWARDFWD | AF.FORWARDDND) if fwd else 0)
        return LineAddressStatus(
            num_in_use=1 if calls or device.off_hook else 0,
            num_active_calls=sum(1 for c in calls if c.state not in (S.ONHOLD, S.ONHOLDPENDTRANSFER)),
            num_on_hold_calls=sum(1 for c in calls if c.state == S.ONHOLD),
            num_on_hold_pend_calls=sum(1 for c in calls if c.state == S.ONHOLDPENDTRANSFER),
            address_features=int(features),
            num_rings_no_answer=device.num_rings_no_answer,
            forward=device.forwarding if queryable else (),
        )

    def call_info_of(self, call: LineCall, line: Line, h_call: int) -> LineCallInfo:
        owners = sum(1 for p in call.handles.values() if p & OWNER)
        shown = self.pbx.shown_party
        caller, called, connected = shown("caller", call.caller), shown("called", call.called), \
            shown("connected", call.connected)
        redirection, redirecting = shown("redirection", call.redirection), shown("redirecting", call.redirecting)
        return LineCallInfo(
            line=line.handle, line_device_id=line.device_id, address_id=0,
            bearer_mode=int(LineBearerMode.VOICE), media_mode=call.media_mode or int(LineMediaMode.INTERACTIVEVOICE),
            call_id=call.call_id, related_call_id=call.related_call_id,
            call_states=REPORTED_CALL_STATES,
            origin=int(call.origin), reason=int(call.reason), num_owners=owners,
            num_monitors=len(call.handles) - owners,
            caller_id_flags=caller.flags, caller_id=caller.number, caller_id_name=caller.name,
            called_id_flags=called.flags, called_id=called.number, called_id_name=called.name,
            connected_id_flags=connected.flags, connected_id=connected.number,
            connected_id_name=connected.name,
            redirection_id_flags=redirection.flags, redirection_id=redirection.number,
            redirection_id_name=redirection.name,
            redirecting_id_flags=redirecting.flags, redirecting_id=redirecting.number,
            redirecting_id_name=redirecting.name,
            app_name=call.app_name,
        )

