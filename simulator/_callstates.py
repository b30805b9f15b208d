"""The call-state chart of a TAPI call appearance, as data, and the one shared machine that runs it.

Rule 1: every allowed (state, trigger) -> state move lives in ``CALL_TRANSITIONS`` below; nothing else
in the simulator changes a call's state. Rule 2: this file knows nothing of switches, parties or
applications: the provider decides *when* to fire a trigger, the chart decides *whether* it may.

Theory of operation: a freshly made call sits in UNKNOWN ("not reported yet"); its first transition
produces its first LINE_CALLSTATE. TAPI's own rules (docs/tapi.md §4, §5) give the sources: e.g.
lineAnswer needs OFFERING or ACCEPTED, lineCompleteTransfer needs the held call ONHOLD or
ONHOLDPENDTRANSFER and the consultation call CONNECTED, RINGBACK, BUSY or PROCEEDING.

All calls share one ``transitions`` Machine (never one per call). It is not ``queued``: the switch's
callbacks fire triggers on *other* legs (the peer of a call that went IDLE, say) and must see the
result at once; a queued machine would check validity only after the caller had moved on.
Stock ``add_model`` scans a list and binds a dozen convenience methods onto every model;
``CallMachine`` keeps models in a dict keyed by identity and binds nothing (triggers are fired through
``fire``), so adding and removing a call is O(1) and costs no per-call memory beyond the call itself.

Why ``fire`` does not go through ``Event.trigger`` (BENCHMARKS.md, P1): a generic trigger costs a
partial, an EventData, state look-ups by name, about eight ``callbacks`` passes over empty lists and a
dozen logging calls; it was ~60 % of a whole Remote Office scenario (~12 moves each). Our chart uses
none of that generality (no conditions, no before/prepare/enter/exit callbacks, one transition per
(source, trigger)), so ``_compile`` reads the Machine's own ``events`` once and builds a
(state, trigger) -> move table; ``fire`` looks the move up, sets the state and calls the
``after_state_change`` callbacks with the same EventData the Machine would have built. The Machine and
``CALL_TRANSITIONS`` stay the single source of truth: if the machine ever gets a feature the table does
not model, ``_compile`` returns None and every trigger takes the full ``transitions`` path
(``fire_full``). tests/test_sim_fastpath.py proves both paths give the same states, callbacks and
errors for every (state, trigger) pair.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any, Final, cast

from transitions import EventData, Machine, MachineError

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
    # MS docs lineRedirect: "The call state of hCall must be offering" (an ACCEPTED call is not)
    (T.REDIRECT, (S.OFFERING,), S.IDLE),
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
        self._moves = self._compile()

    def _compile(self) -> dict[tuple[str, CallTrigger], tuple[Any, Any, Any, str]] | None:
        """(source name, trigger) -> (event, transition, dest State, dest name), or None when the short
        cut would not be faithful (a callback or condition the table does not replay)."""
        machine_hooks = (self.before_state_change, self.prepare_event, self.finalize_event, self.on_exception,
                         self.on_final)
        if self.has_queue or any(machine_hooks) or not all(callable(cb) for cb in self.after_state_change):
            return None
        if any(st.on_enter or st.on_exit or st.final for st in self.states.values()):
            return None
        moves: dict[tuple[str, CallTrigger], tuple[Any, Any, Any, str]] = {}
        for name, event in self.events.items():
            for source, candidates in event.transitions.items():
                if len(candidates) != 1:
                    return None
                t = candidates[0]
                if t.conditions or t.prepare or t.before or t.after or not t.dest:
                    return None
                moves[(source, CallTrigger(name))] = (event, t, self.states[t.dest], t.dest)
        return moves

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
        if self._moves is None:
            self.fire_full(model, trigger, function, **kwargs)
            return
        source = getattr(model, self.model_attribute)
        move = self._moves.get((source, trigger))
        if move is None:
            raise LineError(LineErr.INVALCALLSTATE, function, f"{trigger.value} not allowed in {source}")
        event, transition, dest_state, dest = move
        data = EventData(dest_state, event, self, model, (), kwargs)
        data.transition = transition
        setattr(model, self.model_attribute, dest)
        for callback in self.after_state_change:   # all callables: _compile checked
            cast("Callable[[Any], None]", callback)(data)

    def fire_full(self, model: Any, trigger: CallTrigger, function: str | None = None, **kwargs: Any) -> None:
        """``fire`` through ``transitions``' own ``Event.trigger`` (the reference the compiled table must match)."""
        try:
            self.events[trigger.value].trigger(model, **kwargs)
        except MachineError as exc:
            raise LineError(LineErr.INVALCALLSTATE, function,
                            f"{trigger.value} not allowed in {getattr(model, self.model_attribute)}") from exc
