"""The call-state chart of a TAPI call appearance, as data, and the one shared machine that runs it.

Rule 1: every allowed (state, trigger) -> state move lives in ``CALL_TRANSITIONS`` below; nothing else
in the simulator changes a call's state. Rule 2: this file knows nothing of switches, parties or
applications: the provider decides *when* to fire a trigger, the chart decides *whether* it may.

Theory of operation: a freshly made call sits in UNKNOWN ("not reported yet"); its first transition
produces its first LINE_CALLSTATE. TAPI's own rules (tapi-reference.md §4, §5) give the sources: e.g.
lineAnswer needs OFFERING or ACCEPTED, lineCompleteTransfer needs the held call ONHOLD or
ONHOLDPENDTRANSFER and the consultation call CONNECTED, RINGBACK, BUSY or PROCEEDING.

All calls share one ``transitions`` Machine (never one per call). It is not ``queued``: the switch's
callbacks fire triggers on *other* legs (the peer of a call that went IDLE, say) and must see the
result at once; a queued machine would check validity only after the caller had moved on.
Stock ``add_model`` scans a list and binds a dozen convenience methods onto every model;
``CallMachine`` keeps models in a dict keyed by identity and binds nothing (triggers are fired through
``fire``), so adding and removing a call is O(1) and costs no per-call memory beyond the call itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, Final

from transitions import Machine, MachineError

from simulator._constants import LineCallState as S
from simulator._constants import LineErr
from simulator._errors import LineError

__all__ = ["CALL_STATES", "CALL_TRANSITIONS", "CallMachine", "CallTrigger", "allowed_sources"]


class CallTrigger(enum.StrEnum):
    DIALTONE = "dialtone"          # the call gets dial tone
    DIAL = "dial"                  # digits go out (lineDial / lineMakeCall with an address / handset lifted)
    PROCEED = "proceed"            # dialling complete, no ringback yet
    RINGBACK = "ringback"          # the far end alerts
    BUSY = "busy"                  # far end or trunk busy
    OFFER = "offer"                # a new call is offered at this address
    ACCEPT = "accept"
    ANSWER = "answer"              # lineAnswer, or the far end answered
    CONNECT = "connect"            # the far end answered an outgoing call
    HOLD = "hold"                  # lineHold
    HOLD_PEND_TRANSFER = "hold_pend_transfer"   # lineSetupTransfer / lineSwapHold
    UNHOLD = "unhold"              # lineUnhold, AUTORECONNECT, lineSwapHold
    TRANSFERRED = "transferred"    # the call left this address by a transfer
    REDIRECT = "redirect"          # lineRedirect of an offering call
    DISCONNECT = "disconnect"      # the far end went away
    DROP = "drop"                  # lineDrop, or the switch cleared the call


CALL_STATES: Final[tuple[S, ...]] = (
    S.UNKNOWN, S.IDLE, S.OFFERING, S.ACCEPTED, S.DIALTONE, S.DIALING, S.PROCEEDING, S.RINGBACK, S.BUSY,
    S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER, S.DISCONNECTED,
)

_LIVE: Final = (S.UNKNOWN, S.OFFERING, S.ACCEPTED, S.DIALTONE, S.DIALING, S.PROCEEDING, S.RINGBACK,
                S.BUSY, S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER)
T = CallTrigger

# (trigger, sources, dest). Read a row as: "trigger moves any of sources to dest".
_TABLE: Final[tuple[tuple[CallTrigger, tuple[S, ...], S], ...]] = (
    (T.DIALTONE, (S.UNKNOWN,), S.DIALTONE),
    (T.DIAL, (S.UNKNOWN, S.DIALTONE, S.OFFERING, S.DIALING), S.DIALING),
    (T.PROCEED, (S.UNKNOWN, S.DIALING), S.PROCEEDING),
    (T.RINGBACK, (S.UNKNOWN, S.DIALING, S.PROCEEDING), S.RINGBACK),
    (T.BUSY, (S.DIALING, S.PROCEEDING, S.RINGBACK), S.BUSY),
    (T.OFFER, (S.UNKNOWN,), S.OFFERING),
    (T.ACCEPT, (S.OFFERING,), S.ACCEPTED),
    (T.ANSWER, (S.OFFERING, S.ACCEPTED), S.CONNECTED),
    (T.CONNECT, (S.UNKNOWN, S.DIALING, S.PROCEEDING, S.RINGBACK), S.CONNECTED),
    (T.HOLD, (S.CONNECTED,), S.ONHOLD),
    (T.HOLD_PEND_TRANSFER, (S.CONNECTED,), S.ONHOLDPENDTRANSFER),
    (T.UNHOLD, (S.ONHOLD, S.ONHOLDPENDTRANSFER), S.CONNECTED),
    (T.TRANSFERRED, (S.CONNECTED, S.ONHOLD, S.ONHOLDPENDTRANSFER, S.PROCEEDING, S.RINGBACK, S.BUSY),
     S.IDLE),
    (T.REDIRECT, (S.OFFERING, S.ACCEPTED), S.IDLE),
    (T.DISCONNECT, _LIVE, S.DISCONNECTED),
    (T.DROP, (*_LIVE, S.DISCONNECTED), S.IDLE),
)

CALL_TRANSITIONS: Final[tuple[dict[str, Any], ...]] = tuple(
    {"trigger": trigger.value, "source": [s.name for s in sources], "dest": dest.name}
    for trigger, sources, dest in _TABLE
)

_ALLOWED: Final[dict[CallTrigger, frozenset[S]]] = {t: frozenset(src) for t, src, _ in _TABLE}


def allowed_sources(trigger: CallTrigger) -> frozenset[S]:
    """The states from which ``trigger`` is allowed (for up-front LINEERR_INVALCALLSTATE checks)."""
    return _ALLOWED[trigger]


def _event_model(queued: Any) -> Any:
    args = getattr(queued, "args", ())
    return getattr(args[0], "model", None) if args else None


class CallMachine(Machine):
    """One machine for every call; models are held in an identity dict (O(1) add / remove)."""

    def __init__(self, after_state_change: Callable[[Any], None] | None = None) -> None:
        super().__init__(
            model=None,
            states=[str(s.name) for s in CALL_STATES],
            transitions=list(CALL_TRANSITIONS),
            initial=None,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=True,
            queued=False,
            model_attribute="state_name",
            after_state_change=after_state_change,
        )
        self._members: dict[int, Any] = {}

    @property
    def models(self) -> list[Any]:  # transitions reads this attribute; keep it a cheap view
        return list(self._members.values()) if hasattr(self, "_members") else []

    @models.setter
    def models(self, value: Iterable[Any]) -> None:
        pass  # transitions assigns [] in __init__; membership lives in _members

    def model_count(self) -> int:
        return len(self._members)

    def add_model(self, model: Any, initial: Any = None) -> None:
        start = initial.name if isinstance(initial, S) else (initial or S.UNKNOWN.name)
        key = id(model)
        if key not in self._members:
            setattr(model, self.model_attribute, start)
            self._members[key] = model

    def remove_model(self, model: Any) -> None:
        self._members.pop(id(model), None)
        if self._transition_queue:
            queue = list(self._transition_queue)
            keep = queue[:1] + [e for e in queue[1:] if _event_model(e) is not model]
            self._transition_queue.clear()
            self._transition_queue.extend(keep)

    def fire(self, model: Any, trigger: CallTrigger, function: str | None = None, **kwargs: Any) -> None:
        """Fire ``trigger`` on ``model``; an invalid move raises LINEERR_INVALCALLSTATE, state unchanged."""
        if id(model) not in self._members:
            raise LineError(LineErr.INVALCALLHANDLE, function, "call is not in the state machine")
        try:
            self.events[trigger.value].trigger(model, **kwargs)
        except MachineError as exc:
            raise LineError(LineErr.INVALCALLSTATE, function,
                            f"{trigger.value} not allowed in {getattr(model, self.model_attribute)}") from exc
