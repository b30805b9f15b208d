"""The simulator's call-state chart against Microsoft's TAPI documentation, cell by cell.

Every one of the 16 triggers x 13 call states is classified here from the documentation alone (never
from ``CALL_TRANSITIONS``): the state the trigger leads to, the source states the documentation
*requires* to be allowed ("must"), those it rules out ("never"), and the rest, on which it is silent
("silent": the chart may model them either way; they are listed, not asserted). Sources:

- LINECALLSTATE_ constants: https://learn.microsoft.com/en-us/windows/win32/tapi/linecallstate--constants
  (IDLE: "the call can never transition out of the idle state"; OFFERING: "the arrival of a new call";
  ACCEPTED: "the call was in the offering state and has been accepted"; PROCEEDING: "after dialing is
  complete and before the call reaches the dialed party, as indicated by ringback, busy, or answer";
  DIALTONE: "the switch is ready to receive a dialed number"; DISCONNECTED: "the remote party has
  disconnected from the call")
- LINE_CALLSTATE: new incoming calls are announced "in the offering state"
- function pages (https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-<name>):
  lineAnswer "must be offering or accepted"; lineAccept "must be offering"; lineHold "must be
  connected"; lineSetupTransfer "must be connected"; lineUnhold "must be onHold,
  onHoldPendingTransfer, or onHoldPendingConference"; lineBlindTransfer "must be connected";
  lineCompleteTransfer hCall "onHold or onHoldPendingTransfer", hConsultCall "connected, ringback,
  busy, or proceeding"; lineRedirect "must be offering"; lineDial "any state except idle and
  disconnected"; lineDrop "any state except idle".
"""

from __future__ import annotations

import pytest

from simulator._callstates import CALL_STATES, CallMachine, CallTrigger
from simulator._constants import LineCallState as S
from simulator._constants import LineErr
from simulator._errors import LineError

T = CallTrigger
ALL = frozenset(CALL_STATES)
# An incoming call, a connected call and a held call are past call set-up: no dial tone, no progress.
PAST_SETUP = frozenset({S.OFFERING, S.ACCEPTED, S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER})
ENDED = frozenset({S.IDLE, S.DISCONNECTED})

# trigger -> (destination, must be allowed from, never allowed from)
DOCS: dict[CallTrigger, tuple[S, frozenset[S], frozenset[S]]] = {
    # dial tone: a new outgoing call (or consultation call) before any digit
    T.DIALTONE: (S.DIALTONE, frozenset({S.UNKNOWN}), ENDED | PAST_SETUP),
    # digits on a call that has dial tone, a first report while dialling, or multi-stage lineDial
    T.DIAL: (S.DIALING, frozenset({S.UNKNOWN, S.DIALTONE, S.DIALING}), ENDED),
    T.PROCEED: (S.PROCEEDING, frozenset({S.UNKNOWN, S.DIALING}), ENDED | PAST_SETUP),
    T.RINGBACK: (S.RINGBACK, frozenset({S.UNKNOWN, S.DIALING, S.PROCEEDING}), ENDED | PAST_SETUP),
    T.BUSY: (S.BUSY, frozenset({S.DIALING, S.PROCEEDING}), ENDED | PAST_SETUP),
    # only a new call is offered
    T.OFFER: (S.OFFERING, frozenset({S.UNKNOWN}), ALL - {S.UNKNOWN}),
    T.ACCEPT: (S.ACCEPTED, frozenset({S.OFFERING}), ALL - {S.OFFERING}),
    T.ANSWER: (S.CONNECTED, frozenset({S.OFFERING, S.ACCEPTED}), ALL - {S.OFFERING, S.ACCEPTED}),
    # the far end answers an outgoing call ("answer" after proceeding / ringback)
    T.CONNECT: (S.CONNECTED, frozenset({S.DIALING, S.PROCEEDING, S.RINGBACK}),
                ENDED | PAST_SETUP),
    T.HOLD: (S.ONHOLD, frozenset({S.CONNECTED}), ALL - {S.CONNECTED}),
    T.HOLD_PEND_TRANSFER: (S.ONHOLDPENDTRANSFER, frozenset({S.CONNECTED}), ALL - {S.CONNECTED}),
    T.UNHOLD: (S.CONNECTED, frozenset({S.ONHOLD, S.ONHOLDPENDTRANSFER}),
               ALL - {S.ONHOLD, S.ONHOLDPENDTRANSFER}),
    # lineBlindTransfer (connected) and lineCompleteTransfer (both calls) clear the calls to IDLE
    T.TRANSFERRED: (S.IDLE, frozenset({S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER, S.RINGBACK, S.BUSY,
                                       S.PROCEEDING}),
                    ALL - {S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER, S.RINGBACK, S.BUSY, S.PROCEEDING}),
    T.REDIRECT: (S.IDLE, frozenset({S.OFFERING}), ALL - {S.OFFERING}),
    # the remote party leaves a call that has one (or is being offered / set up to one)
    T.DISCONNECT: (S.DISCONNECTED, frozenset({S.OFFERING, S.ACCEPTED, S.PROCEEDING, S.RINGBACK, S.CONNECTED,
                                              S.ONHOLD, S.ONHOLDPENDTRANSFER}), ENDED),
    T.DROP: (S.IDLE, ALL - {S.IDLE}, frozenset({S.IDLE})),
}

# Cells where the simulator departs from the documentation (found by this table; the simulator is
# someone else's to change): (state, trigger) -> why.
KNOWN_DEVIATIONS: dict[tuple[S, CallTrigger], str] = {}


def _moves(state: S, trigger: CallTrigger) -> S | None:
    """Where the simulator's chart takes ``state`` on ``trigger`` (None: LINEERR_INVALCALLSTATE)."""
    machine = CallMachine()
    model = type("Call", (), {})()
    machine.add_model(model, initial=state)
    try:
        machine.fire(model, trigger)
    except LineError as exc:
        assert exc.code == LineErr.INVALCALLSTATE
        assert model.state_name == state.name      # a refused move changes nothing
        return None
    return S[model.state_name]


def _cells() -> list[pytest.ParameterSet]:
    out = []
    for trigger, (_, must, never) in DOCS.items():
        for state in CALL_STATES:
            kind = "must" if state in must else "never" if state in never else "silent"
            reason = KNOWN_DEVIATIONS.get((state, trigger))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(state, trigger, kind, marks=marks, id=f"{trigger.value}-{state.name}-{kind}"))
    return out


def test_the_table_covers_all_16_triggers_and_is_consistent() -> None:
    assert set(DOCS) == set(CallTrigger) and len(DOCS) == 16
    for trigger, (_, must, never) in DOCS.items():
        assert not must & never, trigger
        assert S.IDLE in never, f"{trigger.value}: IDLE is final (LINECALLSTATE_IDLE)"


@pytest.mark.parametrize(("state", "trigger", "kind"), _cells())
def test_call_state_cell_follows_the_documentation(state: S, trigger: CallTrigger, kind: str) -> None:
    dest, _, _ = DOCS[trigger]
    moved = _moves(state, trigger)
    if kind == "must":
        assert moved == dest, f"{state.name} --{trigger.value}--> {moved} (docs: {dest.name})"
    elif kind == "never":
        assert moved is None, f"{state.name} --{trigger.value}--> {moved} (docs: not from {state.name})"
    elif moved is not None:       # silent: either is fine, but a move goes where the trigger leads
        assert moved == dest
