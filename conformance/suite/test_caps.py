"""RO-CAPS-01/02: what the provider advertises agrees with what the profile claims and what works
(docs/tapi.md §5.8, §8.1, §8.2, §11.1)."""

from __future__ import annotations

import contextlib

import pytest

from conformance._evidence import Cite
from conformance.suite._errors import Inconclusive, cites_of
from conformance.suite._flows import COMPLETE_IN, ENDED, clear_calls, consult_in, dial, make_ro_leg, poll
from conformance.suite._session import TRUNK_REQUIREMENT, LineSession, state_names
from simulator._constants import (
    LineAddrCapFlags,
    LineAddressState,
    LineCallFeature,
    LineCallState,
    LineFeature,
    LineForwardMode,
    LineMsg,
    LineTransferMode,
)
from simulator._errors import LineError
from simulator._messages import LineMessage
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


def _short_of_trunks(s: LineSession) -> bool:
    """The last ``s.attempt`` was refused for want of a trunk channel (``LineSession.short_of_trunks``)."""
    answer = s.last_attempt
    if answer is None or answer.kind not in ("reply", "error"):
        return False
    return s.short_of_trunks(str(answer.facts["function"]), str(answer.facts.get("result", answer.facts.get("error"))))


def _tried(p: Problems, s: LineSession, cite: Cite, where: str, operation: str,
           unjudged: Problems | None = None) -> bool:
    """The bit ``cite`` reads must be set exactly when ``operation`` (the last ``s.attempt``) was accepted;
    the PBX's answer to it (``s.last_attempt``) is cited with the bit. Returns whether it was accepted.

    A refusal for want of a trunk channel says nothing about the bit: the trunks clause owns it, and it is
    noted in ``unjudged`` (as ``wait_reply`` makes such a step inconclusive)."""
    answer = s.last_attempt
    accepted = answer is not None and answer.kind == "reply" and answer.facts["result"] == "0"
    if unjudged is not None and answer is not None and not accepted and _short_of_trunks(s):
        unjudged.append((f"{operation} was refused ({answer.phrase()}) - no free resource (trunk channel?) "
                         f"while another external leg was up: {cite.facts['name']} {where} cannot be judged "
                         f"here, the trunks clause ({TRUNK_REQUIREMENT}) owns it", (answer,)))
        return False
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


def _moved(s: LineSession, h_consult: int, since: int, wanted: int, accepted: bool) -> LineMessage | None:
    """The LINE_CALLSTATE that took the consultation call out of ``wanted`` after message ``since`` (just
    before the attempt) and before the PBX answered it: then the answer says nothing about ``wanted``.
    The call ending after an accepted completion is what the completion does, not a move."""
    answer = s.last_attempt
    reply = answer.obj if answer is not None and answer.kind == "reply" else None
    if reply is None:
        s.drain()      # an up-front refusal: what was already queued happened before it
    end = next((i for i in range(since, len(s.messages)) if s.messages[i] is reply), len(s.messages))
    return next((m for m in s.messages[since:end] if m.msg == LineMsg.CALLSTATE and m.device == h_consult
                 and m.param1 != wanted and not (accepted and m.param1 & ENDED)), None)


def _complete_in(s: LineSession, p: Problems, unjudged: Problems, state: str, h_call: int, h_consult: int) -> None:
    """lineCompleteTransfer(TRANSFER) with the consultation call in ``state`` (a complete_in name): the
    COMPLETETRANSF bit of the held call must agree with the answer, and a state the profile claims must
    not be refused. A consultation call that moved on before the PBX answered leaves the bit to the claim
    and a refusal unjudged."""
    transfer = s.profile.capabilities.transfer
    undocumented = "capabilities.transfer.complete_in" in s.profile.undocumented
    claimed = state in transfer.complete_in and not undocumented
    wanted = int(COMPLETE_IN[state])
    ringing = wanted == LineCallState.RINGBACK
    where = "while the target rings" if ringing else f"while the consultation call is {state_names(wanted)}"
    held = Cite.flag(s.backend.line_get_call_status(h_call), "lineGetCallStatus", "call_features",
                     CF.COMPLETETRANSF, "LINECALLFEATURE_COMPLETETRANSF")
    in_state = s.state_message(h_consult, wanted)
    since = s.mark()
    s.attempt(f"lineCompleteTransfer {where} (is COMPLETETRANSF right?)", "line_complete_transfer",
              h_call, h_consult, int(LineTransferMode.TRANSFER))
    answer = s.last_attempt
    assert answer is not None     # attempt() always leaves the PBX's answer (or raised)
    accepted = answer.kind == "reply" and answer.facts["result"] == "0"
    moved = _moved(s, h_consult, since, wanted, accepted)
    if moved is None:
        _tried(p, s, held, f"on the held call {where}",
               "lineCompleteTransfer(TRANSFER) while it rings" if ringing else
               f"lineCompleteTransfer(TRANSFER) in {state_names(wanted)}", unjudged)
        if claimed and not accepted and not _short_of_trunks(s):
            p.append((f"lineCompleteTransfer(TRANSFER) with the consultation call 0x{h_consult:08X} "
                      f"{state_names(wanted)}: {answer.phrase()}, although capabilities.transfer.complete_in "
                      f"claims {state}", (answer,) if in_state is None else (answer, Cite.callstate(in_state))))
    else:
        # The call went on (the target answered, or it ended) before the PBX answered: the PBX may have
        # judged another state. The bit is judged against the claim; a refusal is not judged at all.
        s.step(f"the consultation call went {state_names(moved.param1)} before lineCompleteTransfer was "
               f"answered: COMPLETETRANSF {where} judged against the claim, not by this attempt")
        _agree(p, held, state in transfer.complete_in, f"transfer.complete_in = {list(transfer.complete_in)}",
               undocumented)
        if claimed and not accepted:
            unjudged.append((f"{state}: the consultation call 0x{h_consult:08X} went {state_names(moved.param1)} "
                             f"before the PBX answered, so {answer.phrase()} says nothing about "
                             f"{state_names(wanted)}", (Cite.callstate(moved), answer)))
    if accepted:     # the hand-over itself is RO-CONS-01's to judge: here the calls only have to go
        poll(s, lambda: all(s.state_of(h) & LineCallState.IDLE for h in (h_call, h_consult)),
             s.pixit.state_timeout)


@pytest.mark.requirement("RO-CAPS-02")
def test_ro_caps_02_call_features_match_behaviour(tapi_session: LineSession) -> None:
    """lineGetCallStatus dwCallFeatures agree with what the PBX does, each operation tried: on the
    connected RO leg BLINDTRANSFER iff lineBlindTransfer is accepted, SETUPTRANSFER iff lineSetupTransfer
    is accepted; on the held call while the consultation call rings back, COMPLETETRANSF iff
    lineCompleteTransfer(TRANSFER) is accepted (§5.8: the feature sits on the held primary call). Then,
    each on a new RO leg, the same in every other consultation-call state capabilities.transfer.complete_in
    claims (PROCEEDING; CONNECTED once the target answered): a claimed state refused fails, naming the
    state and the LINEERR. A state the test cannot bring about (a party it cannot observe or that does not
    play along, a trunk shortage, a call that passes the state unseen; BUSY: no PIXIT party is busy on
    demand) is inconclusive, never a fail. Where two external legs are not available (trunks.channels < 2)
    a bit that needs one is judged against the profile's claim instead, and the log says so."""
    s = tapi_session
    transfer = s.profile.capabilities.transfer
    undocumented = "capabilities.transfer.complete_in" in s.profile.undocumented
    claimed = () if undocumented else tuple(st for st in COMPLETE_IN if st in transfer.complete_in)
    two_legs = s.profile.trunks >= 2
    p: Problems = []
    unjudged: Problems = []       # what the test could not judge (a state not brought about, trunks short)
    h_call = make_ro_leg(s)
    s.step("lineGetCallStatus on the connected RO leg")
    status = s.backend.line_get_call_status(h_call)

    def bit(status: LineCallStatus, flag: int) -> Cite:   # one bit of LINECALLSTATUS, as the log has it
        return Cite.flag(status, "lineGetCallStatus", "call_features", flag, f"LINECALLFEATURE_{CF(flag).name}")
    if two_legs:
        s.attempt("lineBlindTransfer of the RO leg (is BLINDTRANSFER right?)", "line_blind_transfer",
                  h_call, dial(s, "target"))
        if _tried(p, s, bit(status, CF.BLINDTRANSFER), "on the connected RO leg", "lineBlindTransfer", unjudged):
            h_call = _fresh_ro_leg(s, h_call)
            status = s.backend.line_get_call_status(h_call)
    else:
        s.step("one trunk channel: BLINDTRANSFER judged against the claim, not tried")
        _agree(p, bit(status, CF.BLINDTRANSFER), transfer.blind, f"transfer.blind = {transfer.blind}",
               "capabilities.transfer.blind" in s.profile.undocumented)
    reply = s.attempt("lineSetupTransfer on the RO leg (is SETUPTRANSFER right?)", "line_setup_transfer",
                      h_call, None)
    setup = s.last_attempt
    _tried(p, s, bit(status, CF.SETUPTRANSFER), "on the connected RO leg", "lineSetupTransfer", unjudged)
    if not two_legs:
        if reply is not None:
            s.step("one trunk channel: lineCompleteTransfer cannot be tried in any state (no second external leg)")
    elif reply is None:
        if claimed and setup is not None:
            unjudged.append((f"lineCompleteTransfer in the claimed complete_in states ({', '.join(claimed)}) "
                             f"cannot be tried: {setup.phrase()}", (setup,)))
    elif reply.new_call:
        if undocumented:
            s.step("capabilities.transfer.complete_in is undocumented: lineCompleteTransfer is tried while the "
                   "target rings only (no claimed state to try)")
        # RINGBACK first, claimed or not (the COMPLETETRANSF bit is judged there), on the leg at hand;
        # then every other claimed state on a new RO leg, the calls of the last attempt cleared first.
        legs, done = (h_call, reply.new_call), ""
        for state in ("ringback", *(st for st in claimed if st != "ringback")):
            if done:
                clear_calls(s, done)
                legs = (0, 0)
            done = f"lineCompleteTransfer with the consultation call {state_names(int(COMPLETE_IN[state]))}"
            try:
                h_call, h_consult = consult_in(s, state, *legs)
            except Inconclusive as exc:
                unjudged.append((f"{state}: {exc}", cites_of(exc)))
                continue
            _complete_in(s, p, unjudged, state, h_call, h_consult)
    elif claimed:   # accepted, but the reply hands over no consultation call (RO-TAPI-01 judges the reply)
        unjudged.append((f"lineCompleteTransfer in the claimed complete_in states ({', '.join(claimed)}) cannot "
                         f"be tried: lineSetupTransfer (request {reply.request_id}) was answered 0 without a "
                         f"consultation call handle",
                         (Cite.reply(reply, "lineSetupTransfer"),)))
    untried = "; not judged: " + "; ".join(text for text, _ in unjudged) if unjudged else ""
    if p:
        raise s.verdict("fail", "call features or claims disagree with the PBX's behaviour: "
                        + "; ".join(text for text, _ in p) + untried,
                        cause=[c for _, cites in (*p, *unjudged) for c in cites])
    if unjudged:
        raise s.verdict("inconclusive", "not every operation could be judged: "
                        + "; ".join(text for text, _ in unjudged),
                        cause=[c for _, cites in unjudged for c in cites])
