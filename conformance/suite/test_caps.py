"""RO-CAPS-01/02: what the provider advertises agrees with what the profile claims and what works
(docs/tapi.md §5.8, §8.1, §8.2, §11.1)."""

from __future__ import annotations

import contextlib

import pytest

from conformance._evidence import Cite
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
from simulator._errors import LineError
from simulator._structs import LineCallStatus

CF = LineCallFeature


Problems = list[tuple[str, tuple[Cite, ...]]]      # (what disagrees, the records that show it)


def _agree(problems: Problems, cite: Cite, claimed: bool, claim: str, unknown: bool = False) -> None:
    """Note a disagreement of the bit ``cite`` reads with the claim; ``unknown``: the profile leaves the
    claim undocumented, nothing to agree with."""
    shown = bool(cite.facts["set"])
    if shown != claimed and not unknown:
        problems.append((f"{cite.says()[0]} but the profile says {claim}", (cite,)))


def _verdict(s: LineSession, head: str, problems: Problems) -> Exception:
    return s.verdict("fail", head + "; ".join(text for text, _ in problems),
                     cause=[c for _, cites in problems for c in cites])


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
    p: Problems = []

    def bit(field: str, flag: int, name: str) -> Cite:     # one bit of LINEADDRESSCAPS, as the log has it
        return Cite.flag(caps, "lineGetAddressCaps", field, flag, name)
    _agree(p, bit("addr_cap_flags", LineAddrCapFlags.ORIGOFFHOOK, "LINEADDRCAPFLAGS_ORIGOFFHOOK"),
           claims.origination == "auto", f"origination = {claims.origination}", "origination" in und)
    _agree(p, bit("call_features", CF.BLINDTRANSFER, "LINECALLFEATURE_BLINDTRANSFER"), transfer.blind,
           f"transfer.blind = {transfer.blind}", "transfer.blind" in und)
    for name in ("SETUPTRANSFER", "COMPLETETRANSF"):
        _agree(p, bit("call_features", getattr(CF, name), f"LINECALLFEATURE_{name}"), transfer.consultation,
               f"transfer.consultation = {transfer.consultation}", "transfer.consultation" in und)
    _agree(p, bit("transfer_modes", LineTransferMode.TRANSFER, "LINETRANSFERMODE_TRANSFER"),
           transfer.consultation, f"transfer.consultation = {transfer.consultation}", "transfer.consultation" in und)
    query, events = bool(fwd and fwd.query), bool(fwd and fwd.status_events)
    fwd_unknown = "forwarding" in und
    _agree(p, bit("addr_cap_flags", LineAddrCapFlags.FWDSTATUSVALID, "LINEADDRCAPFLAGS_FWDSTATUSVALID"),
           query, f"forwarding.query = {query}", fwd_unknown or "forwarding.query" in und)
    _agree(p, bit("address_states", LineAddressState.FORWARD, "LINEADDRESSSTATE_FORWARD in dwAddressStates"),
           events, f"forwarding.status_events = {events}", fwd_unknown or "forwarding.status_events" in und)
    for mode in (fwd.modes if fwd else ()):
        _agree(p, bit("forward_modes", LineForwardMode[mode], f"LINEFORWARDMODE_{mode}"), True,
               f"forwarding.modes includes {mode}")
    if fwd is None and caps.forward_modes and not fwd_unknown:
        modes = Cite.value(caps, "lineGetAddressCaps", "forward_modes")
        p.append((f"dwForwardModes is {modes.says()[0]} but the profile says forwarding = null", (modes,)))
    native = claims.native_remote_office.mechanism != "none"
    _agree(p, Cite.flag(dev, "lineGetDevCaps", "line_features", LineFeature.DEVSPECIFIC, "LINEFEATURE_DEVSPECIFIC"),
           native, f"native_remote_office.mechanism = {claims.native_remote_office.mechanism}",
           "native_remote_office.mechanism" in und)
    if p:
        raise _verdict(s, "advertised capabilities disagree with the claims: ", p)


def _tried(p: Problems, s: LineSession, cite: Cite, where: str, operation: str) -> bool:
    """The bit ``cite`` reads must be set exactly when ``operation`` (the last ``s.attempt``) was accepted;
    the PBX's answer to it (``s.last_attempt``) is cited with the bit. Returns whether it was accepted."""
    answer = s.last_attempt
    accepted = answer is not None and answer.kind == "reply" and answer.facts["result"] == "0"
    if bool(cite.facts["set"]) != accepted:
        how = f" ({answer.phrase()})" if answer is not None else ""
        p.append((f"{cite.says()[0]} {where} but {operation} was {'accepted' if accepted else 'refused'}{how}",
                  (cite,) if answer is None else (cite, answer)))
    return accepted


def _fresh_ro_leg(s: LineSession, old: int) -> int:
    """The previous RO leg was handed over: clear what is left of it, free the parties, build a new one.

    Whether the desk call leaves after a blind transfer is RO-BLIND-01's to judge, not this test's: a
    desk call that lingers is dropped here."""
    s.step("clear the handed-over RO leg")
    with contextlib.suppress(LineError):
        if s.backend.line_get_call_status(old).call_state != LineCallState.IDLE:
            before = len(s.history.setdefault(old, []))
            if s.attempt("lineDrop of what is left of the handed-over leg", "line_drop", old) is not None:
                s.wait_state(old, int(LineCallState.IDLE), "the old leg goes IDLE", on_timeout="inconclusive",
                             since=before)
    s.step("free the parties for a new RO leg")
    for role in ("target", "remote_office"):
        if s.backend.parties.observe(role).state not in ("idle", "unknown"):
            s.backend.parties.hang_up(role)
        s.party_wait(role, frozenset({"idle", "unknown"}), f"{role} is idle again", on_timeout="error")
    return make_ro_leg(s)


@pytest.mark.requirement("RO-CAPS-02")
def test_ro_caps_02_call_features_match_behaviour(tapi_session: LineSession) -> None:
    """lineGetCallStatus dwCallFeatures agree with what the PBX does, each operation tried: on the
    connected RO leg BLINDTRANSFER iff lineBlindTransfer is accepted, SETUPTRANSFER iff lineSetupTransfer
    is accepted; on the held call while the consultation call rings back, COMPLETETRANSF iff
    lineCompleteTransfer(TRANSFER) is accepted (§5.8: the feature sits on the held primary call). Where
    two external legs are not available (trunks.channels < 2) a bit that needs one is judged against the
    profile's claim instead, and the log says so."""
    s = tapi_session
    transfer = s.profile.capabilities.transfer
    two_legs = s.profile.trunks >= 2
    p: Problems = []
    h_call = make_ro_leg(s)
    s.step("lineGetCallStatus on the connected RO leg")
    status = s.backend.line_get_call_status(h_call)

    def bit(status: LineCallStatus, flag: int) -> Cite:   # one bit of LINECALLSTATUS, as the log has it
        return Cite.flag(status, "lineGetCallStatus", "call_features", flag, f"LINECALLFEATURE_{CF(flag).name}")
    if two_legs:
        s.attempt("lineBlindTransfer of the RO leg (is BLINDTRANSFER right?)", "line_blind_transfer",
                  h_call, dial(s, "target"))
        if _tried(p, s, bit(status, CF.BLINDTRANSFER), "on the connected RO leg", "lineBlindTransfer"):
            h_call = _fresh_ro_leg(s, h_call)
            status = s.backend.line_get_call_status(h_call)
    else:
        s.step("one trunk channel: BLINDTRANSFER judged against the claim, not tried")
        _agree(p, bit(status, CF.BLINDTRANSFER), transfer.blind, f"transfer.blind = {transfer.blind}",
               "capabilities.transfer.blind" in s.profile.undocumented)
    reply = s.attempt("lineSetupTransfer on the RO leg (is SETUPTRANSFER right?)", "line_setup_transfer",
                      h_call, None)
    _tried(p, s, bit(status, CF.SETUPTRANSFER), "on the connected RO leg", "lineSetupTransfer")
    if reply is not None and reply.new_call and two_legs:
        h_consult = reply.new_call
        s.wait_state(h_consult, int(LineCallState.DIALTONE), "the consultation call has dial tone")
        s.do("lineDial the target", "line_dial", h_consult, dial(s, "target"))
        s.wait_state(h_consult, int(LineCallState.RINGBACK), "the consultation call rings back")
        held = bit(s.backend.line_get_call_status(h_call), CF.COMPLETETRANSF)
        s.attempt("lineCompleteTransfer while the target rings (is COMPLETETRANSF right?)",
                  "line_complete_transfer", h_call, h_consult, int(LineTransferMode.TRANSFER))
        if LineCallState.CONNECTED in s.history.get(h_consult, []):
            # The target answered before the LINE_REPLY (a party line that answers at once): the PBX may
            # have completed a connected call, which says nothing about ringing. Judge the bit by the claim.
            s.step("the target answered before the completion was processed: COMPLETETRANSF while ringing "
                   "judged against the claim, not by this attempt")
            _agree(p, held, "ringback" in transfer.complete_in, f"transfer.complete_in = {list(transfer.complete_in)}",
                   "capabilities.transfer.complete_in" in s.profile.undocumented)
        else:
            _tried(p, s, held, "on the held call while the target rings",
                   "lineCompleteTransfer(TRANSFER) while it rings")
    elif reply is not None:
        s.step("one trunk channel: COMPLETETRANSF while ringing cannot be tried (no second external leg)")
    if p:
        raise _verdict(s, "call features disagree with the PBX's behaviour: ", p)
