"""Capabilities derived from the profile: LINEDEVCAPS, LINEADDRESSCAPS, per-state call features.

What the provider *advertises* comes from the profile's claims (PICS) only, so advertised and actual
behaviour agree unless a fault says otherwise (``caps_omit_call_features``). Per-state features follow
the JulMar TSP++ defaults (docs/tapi.md §5.8), masked by the address capabilities, and are exact:
COMPLETETRANSF is shown on the held call only while the consultation call is in a state the profile
lets the switch complete in.
"""

from __future__ import annotations

from simulator._calls import OWNER, Device, LineCall
from simulator._constants import LineAddrCapFlags as ACF
from simulator._constants import (
    LineAddressMode,
    LineAddressSharing,
    LineBearerMode,
    LineBusyMode,
    LineCallInfoState,
    LineConnectedMode,
    LineDevCapFlags,
    LineDialToneMode,
    LineDisconnectMode,
    LineForwardMode,
    LineOfferingMode,
    LineTransferMode,
    StringFormat,
)
from simulator._constants import LineAddressState as AS
from simulator._constants import LineAddrFeature as AF
from simulator._constants import LineCallFeature as CF
from simulator._constants import LineCallFeature2 as CF2
from simulator._constants import LineCallPartyId as PID
from simulator._constants import LineCallState as S
from simulator._constants import LineDevState as DS
from simulator._constants import LineFeature as LF
from simulator._constants import LineMediaMode as MM
from simulator._faults import caps_flag
from simulator._profile_model import Forwarding, Profile
from simulator._structs import LineAddressCaps, LineDevCaps

__all__ = ["ADDRESS_STATES", "LINE_STATES", "REPORTED_CALL_STATES", "address_caps", "call_features",
           "completion_states", "dev_caps", "forward_mode_mask"]

LINE_STATES = int(DS.RINGING | DS.CONNECTED | DS.DISCONNECTED | DS.INSERVICE | DS.OUTOFSERVICE | DS.OPEN
                  | DS.CLOSE | DS.NUMCALLS | DS.CAPSCHANGE | DS.REMOVED | DS.REINIT | DS.DEVSPECIFIC)
ADDRESS_STATES = int(AS.OTHER | AS.INUSEZERO | AS.INUSEONE | AS.INUSEMANY | AS.NUMCALLS | AS.FORWARD
                     | AS.CAPSCHANGE)
_STATE_NAMES = {"connected": S.CONNECTED, "ringback": S.RINGBACK, "proceeding": S.PROCEEDING, "busy": S.BUSY}
# The states this provider reports (LINEADDRESSCAPS / LINECALLINFO dwCallStates).
REPORTED_CALL_STATES = int(S.IDLE | S.OFFERING | S.DIALTONE | S.DIALING | S.PROCEEDING | S.RINGBACK | S.BUSY
                           | S.CONNECTED | S.ONHOLD | S.ONHOLDPENDTRANSFER | S.DISCONNECTED | S.UNKNOWN)


def completion_states(profile: Profile) -> frozenset[S]:
    """Consultation-call states in which the switch completes a transfer (``transfer.complete_in``)."""
    return frozenset(_STATE_NAMES[s] for s in profile.capabilities.transfer.complete_in)


def forward_mode_mask(forwarding: Forwarding | None) -> int:
    """The LINEFORWARDMODE_* bits of the profile's forwarding modes (0 without forwarding)."""
    mask = 0
    for name in (forwarding.modes if forwarding else ()):
        mask |= int(LineForwardMode[name])
    return mask


def dev_caps(profile: Profile, device: Device, device_id: int, ro_active: str = "") -> LineDevCaps:
    caps = profile.capabilities
    features = LF.MAKECALL
    if caps.forwarding is not None and device.is_station:
        features |= LF.FORWARD | LF.FORWARDFWD | LF.FORWARDDND
    if caps.native_remote_office.mechanism == "devspecific":
        features |= LF.DEVSPECIFIC
    kind = "Station" if device.is_station else "Party line"
    return LineDevCaps(
        provider_info=f"RO simulator TSP ({profile.vendor or 'simulated'})",
        switch_info=f"{profile.name}",
        permanent_line_id=0x5000 + device_id,
        line_name=f"{kind} {device.number}" + (f" ({device.name})" if device.name else ""),
        string_format=StringFormat.UNICODE,
        address_modes=LineAddressMode.ADDRESSID,
        num_addresses=1,
        bearer_modes=LineBearerMode.VOICE,
        media_modes=MM.INTERACTIVEVOICE | MM.UNKNOWN,
        dev_cap_flags=LineDevCapFlags.CLOSEDROP,
        max_num_active_calls=1,
        line_states=LINE_STATES,
        line_features=int(features) & ~_omitted(profile, "LINEFEATURE_"),
        dev_specific=(f"RO={ro_active}".encode() if caps.native_remote_office.mechanism == "devspecific"
                      else b""),
    )


def address_call_features(profile: Profile, device: Device) -> int:
    caps = profile.capabilities
    f = CF.ACCEPT | CF.ANSWER | CF.DIAL | CF.DROP | CF.HOLD | CF.UNHOLD | CF.SWAPHOLD | CF.REDIRECT
    if device.is_station and caps.transfer.blind:
        f |= CF.BLINDTRANSFER
    if device.is_station and caps.transfer.consultation:
        f |= CF.SETUPTRANSFER | CF.COMPLETETRANSF
    for fault in profile.simulation.faults:
        if fault.kind == "caps_omit_call_features":
            f &= ~fault.features
    return int(f)


def _omitted(profile: Profile, prefix: str) -> int:
    """caps_omit: the bits of one constant family the profile leaves out of the advertised capabilities."""
    mask = 0
    for fault in profile.simulation.faults:
        if fault.kind == "caps_omit":
            for name in fault.flags:
                found = caps_flag(name)
                if found is not None and found[0] == prefix:
                    mask |= found[1]
    return mask


def address_caps(profile: Profile, device: Device, device_id: int) -> LineAddressCaps:
    caps = profile.capabilities
    fwd = caps.forwarding if device.is_station else None
    flags = ACF.DIALED | ACF.PARTIALDIAL | ACF.AUTORECONNECT
    if caps.origination == "auto" and device.is_station:
        flags |= ACF.ORIGOFFHOOK
    if fwd is not None and fwd.query:
        flags |= ACF.FWDSTATUSVALID
    if profile.simulation.fault("setup_transfer_holds") is not None:
        # a hard-held call is transferable only where TRANSFERHELD says so (MS docs, LINEADDRCAPFLAGS_):
        # the knob's PBX completes from plain ONHOLD, so its caps must say it can
        flags |= ACF.TRANSFERHELD
    addr_states = ADDRESS_STATES if fwd is not None and fwd.status_events else ADDRESS_STATES & ~AS.FORWARD
    id_flags = int(PID.ADDRESS | PID.NAME | PID.BLOCKED | PID.UNKNOWN | PID.UNAVAIL)
    return LineAddressCaps(
        line_device_id=device_id,
        address=device.number,
        address_sharing=LineAddressSharing.PRIVATE,
        address_states=int(addr_states) & ~_omitted(profile, "LINEADDRESSSTATE_"),
        call_info_states=int(LineCallInfoState.CALLERID | LineCallInfoState.CALLEDID
                             | LineCallInfoState.CONNECTEDID | LineCallInfoState.REDIRECTIONID
                             | LineCallInfoState.REDIRECTINGID | LineCallInfoState.REASON),
        caller_id_flags=id_flags, called_id_flags=id_flags, connected_id_flags=id_flags,
        redirection_id_flags=id_flags, redirecting_id_flags=id_flags,
        call_states=REPORTED_CALL_STATES,
        dial_tone_modes=int(LineDialToneMode.NORMAL | LineDialToneMode.INTERNAL),
        busy_modes=int(LineBusyMode.STATION | LineBusyMode.TRUNK | LineBusyMode.UNKNOWN), special_info=0,
        disconnect_modes=int(LineDisconnectMode.NORMAL | LineDisconnectMode.REJECT | LineDisconnectMode.BUSY
                             | LineDisconnectMode.NOANSWER | LineDisconnectMode.BADADDRESS
                             | LineDisconnectMode.CONGESTION | LineDisconnectMode.FORWARDED
                             | LineDisconnectMode.UNAVAIL),
        max_num_active_calls=1, max_num_on_hold_calls=1, max_num_on_hold_pending_calls=1,
        max_num_conference=0, max_num_trans_conf=0,
        addr_cap_flags=int(flags) & ~_omitted(profile, "LINEADDRCAPFLAGS_"),
        call_features=address_call_features(profile, device),
        transfer_modes=(int(LineTransferMode.TRANSFER) if caps.transfer.consultation else 0)
        & ~_omitted(profile, "LINETRANSFERMODE_"),
        forward_modes=forward_mode_mask(fwd) & ~_omitted(profile, "LINEFORWARDMODE_"),
        max_forward_entries=fwd.max_entries if fwd else 0,
        address_features=int(AF.MAKECALL | ((AF.FORWARD | AF.FORWARDFWD | AF.FORWARDDND) if fwd else 0)),
        call_features2=int(CF2.TRANSFERNORM) if caps.transfer.consultation else 0,
        connected_modes=int(LineConnectedMode.ACTIVE),
        offering_modes=int(LineOfferingMode.ACTIVE),
        available_media_modes=int(MM.INTERACTIVEVOICE),
    )


def _consult_of(call: LineCall) -> LineCall | None:
    return next((c for c in call.device.calls if c.consult_for is call), None)


def call_features(profile: Profile, call: LineCall, privilege: int) -> tuple[int, int]:
    """(dwCallFeatures, dwCallFeatures2) of ``call`` right now, for an app with ``privilege``."""
    state = call.state
    if privilege & OWNER and state == S.UNKNOWN and call.consult_for is not None \
            and profile.simulation.fault("consult_without_dialtone") is not None:
        # a consultation call left unreported (no DIALTONE) still takes lineDial
        return int((CF.DIAL | CF.DROP) & address_call_features(profile, call.device)), 0
    if not privilege & OWNER or state in (S.IDLE, S.UNKNOWN):
        return 0, 0   # a monitor may do nothing to the call; an idle or unreported one offers nothing
    f2: int = 0
    f: int = CF.DROP
    if state == S.OFFERING:
        f |= CF.ANSWER | CF.REDIRECT | CF.ACCEPT
    elif state == S.ACCEPTED:           # claimed, not answered: lineRedirect is for OFFERING only
        f |= CF.ANSWER
    elif state in (S.DIALTONE, S.DIALING):
        f |= CF.DIAL
    elif state == S.CONNECTED:
        f |= CF.HOLD
        if call.consult_for is None:
            f |= CF.BLINDTRANSFER | CF.SETUPTRANSFER
    elif state == S.ONHOLD and _consult_of(call) is None:
        f |= CF.UNHOLD
    elif state in (S.ONHOLD, S.ONHOLDPENDTRANSFER):   # held for a transfer (ONHOLD: setup_transfer_holds)
        f |= CF.UNHOLD
        consult = _consult_of(call)
        if consult is not None and consult.state in completion_states(profile):
            f |= CF.COMPLETETRANSF
            f2 |= CF2.TRANSFERNORM
        if consult is not None and consult.state == S.CONNECTED:
            f |= CF.SWAPHOLD
    if call.consult_for is not None and state == S.CONNECTED:
        f |= CF.SWAPHOLD
    return int(f & address_call_features(profile, call.device)), int(f2)
