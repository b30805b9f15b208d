"""RO-CAPS-01/02: what the provider advertises agrees with what the profile claims and what works
(tapi-reference.md §5.8, §8.1, §8.2, §11.1)."""

from __future__ import annotations

import pytest

from conformance.suite._flows import dial, make_ro_leg
from conformance.suite._session import LineSession
from simulator._constants import (
    LineAddrCapFlags,
    LineAddressState,
    LineCallFeature,
    LineCallState,
    LineFeature,
    LineForwardMode,
    LineTransferMode,
)

CF = LineCallFeature


def _agree(problems: list[str], what: str, shown: bool, claimed: bool, claim: str, unknown: bool = False) -> None:
    """Note a disagreement; ``unknown``: the profile leaves the claim undocumented, nothing to agree with."""
    if shown != claimed and not unknown:
        problems.append(f"{what} is {'set' if shown else 'missing'} but the profile says {claim}")


@pytest.mark.requirement("RO-CAPS-01")
def test_ro_caps_01_address_caps_match_claims(tapi_session: LineSession) -> None:
    """LINEADDRESSCAPS / LINEDEVCAPS of the desk line agree with the profile: ORIGOFFHOOK iff automatic
    origination (§11.1), BLINDTRANSFER iff blind transfer, SETUPTRANSFER + COMPLETETRANSF and
    LINETRANSFERMODE_TRANSFER iff consultation transfer, FWDSTATUSVALID iff the forward list can be
    queried, LINEADDRESSSTATE_FORWARD iff forwarding events are sent, the claimed LINEFORWARDMODEs in
    dwForwardModes, LINEFEATURE_DEVSPECIFIC iff native Remote Office (§8.1-§8.3)."""
    s = tapi_session
    caps, dev = s.line.addr_caps, s.line.dev_caps
    claims = s.profile.capabilities
    fwd, transfer = claims.forwarding, claims.transfer
    und = {k.removeprefix("capabilities.") for k in s.profile.undocumented}
    s.step("compare LINEADDRESSCAPS / LINEDEVCAPS with the profile's claims"
           + (f" (undocumented, not compared: {', '.join(sorted(und))})" if und else ""))
    p: list[str] = []
    _agree(p, "LINEADDRCAPFLAGS_ORIGOFFHOOK", bool(caps.addr_cap_flags & LineAddrCapFlags.ORIGOFFHOOK),
           claims.origination == "auto", f"origination = {claims.origination}", "origination" in und)
    _agree(p, "LINECALLFEATURE_BLINDTRANSFER", bool(caps.call_features & CF.BLINDTRANSFER), transfer.blind,
           f"transfer.blind = {transfer.blind}", "transfer.blind" in und)
    for name in ("SETUPTRANSFER", "COMPLETETRANSF"):
        _agree(p, f"LINECALLFEATURE_{name}", bool(caps.call_features & getattr(CF, name)), transfer.consultation,
               f"transfer.consultation = {transfer.consultation}", "transfer.consultation" in und)
    _agree(p, "LINETRANSFERMODE_TRANSFER", bool(caps.transfer_modes & LineTransferMode.TRANSFER),
           transfer.consultation, f"transfer.consultation = {transfer.consultation}", "transfer.consultation" in und)
    query, events = bool(fwd and fwd.query), bool(fwd and fwd.status_events)
    fwd_unknown = "forwarding" in und
    _agree(p, "LINEADDRCAPFLAGS_FWDSTATUSVALID", bool(caps.addr_cap_flags & LineAddrCapFlags.FWDSTATUSVALID),
           query, f"forwarding.query = {query}", fwd_unknown or "forwarding.query" in und)
    _agree(p, "LINEADDRESSSTATE_FORWARD in dwAddressStates", bool(caps.address_states & LineAddressState.FORWARD),
           events, f"forwarding.status_events = {events}", fwd_unknown or "forwarding.status_events" in und)
    for mode in (fwd.modes if fwd else ()):
        _agree(p, f"LINEFORWARDMODE_{mode}", bool(caps.forward_modes & LineForwardMode[mode]), True,
               f"forwarding.modes includes {mode}")
    if fwd is None and caps.forward_modes and not fwd_unknown:
        p.append(f"dwForwardModes is 0x{caps.forward_modes:X} but the profile says forwarding = null")
    native = claims.native_remote_office.mechanism != "none"
    _agree(p, "LINEFEATURE_DEVSPECIFIC", bool(dev.line_features & LineFeature.DEVSPECIFIC), native,
           f"native_remote_office.mechanism = {claims.native_remote_office.mechanism}",
           "native_remote_office.mechanism" in und)
    if p:
        raise s.verdict("fail", "advertised capabilities disagree with the claims: " + "; ".join(p))


@pytest.mark.requirement("RO-CAPS-02")
def test_ro_caps_02_call_features_match_behaviour(tapi_session: LineSession) -> None:
    """lineGetCallStatus dwCallFeatures agree with what the PBX does: on the connected RO leg
    BLINDTRANSFER iff blind transfer works, SETUPTRANSFER iff lineSetupTransfer works (it is tried); on
    the held call while the consultation call rings, COMPLETETRANSF iff completion while ringing is
    claimed (§5.8: the feature sits on the held primary call)."""
    s = tapi_session
    transfer = s.profile.capabilities.transfer
    und = s.profile.undocumented
    h_call = make_ro_leg(s)
    s.step("lineGetCallStatus on the connected RO leg")
    features = s.backend.line_get_call_status(h_call).call_features
    p: list[str] = []
    _agree(p, "BLINDTRANSFER on the connected RO leg", bool(features & CF.BLINDTRANSFER), transfer.blind,
           f"transfer.blind = {transfer.blind}", "capabilities.transfer.blind" in und)
    _agree(p, "SETUPTRANSFER on the connected RO leg", bool(features & CF.SETUPTRANSFER), transfer.consultation,
           f"transfer.consultation = {transfer.consultation}", "capabilities.transfer.consultation" in und)
    if transfer.consultation and s.profile.trunks >= 2:
        h_consult = s.do("lineSetupTransfer (SETUPTRANSFER is advertised)", "line_setup_transfer",
                         h_call, None).new_call
        s.wait_state(h_consult, int(LineCallState.DIALTONE), "the consultation call has dial tone")
        s.do("lineDial the target", "line_dial", h_consult, dial(s, "target"))
        s.wait_state(h_consult, int(LineCallState.RINGBACK), "the consultation call rings back")
        held = s.backend.line_get_call_status(h_call).call_features
        ringing = "ringback" in transfer.complete_in
        _agree(p, "COMPLETETRANSF on the held call while the target rings", bool(held & CF.COMPLETETRANSF),
               ringing, f"transfer.complete_in = {list(transfer.complete_in)}",
               "capabilities.transfer.complete_in" in und)
    if p:
        raise s.verdict("fail", "call features disagree with the PBX's behaviour: " + "; ".join(p))
