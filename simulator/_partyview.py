"""What a party around the PBX experiences: the view every backend's party control reports.

A value module (no simulator objects): the simulator's direct party control and the tapi32 backend's
party lines both map a TAPI call state to what the person at that phone experiences with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar, get_args

from simulator._constants import LineCallPartyId as PID
from simulator._constants import LineCallState as S

__all__ = ["EXTERNAL_ROLES", "PARTY_STATE_OF", "PRESENTATIONS", "ROLES", "PartyState", "PartyView", "Presentation",
           "current_call", "presentation_of"]

ROLES: Final = ("desk", "remote_office", "target", "caller")   # the PIXIT roles
EXTERNAL_ROLES: Final = ROLES[1:]                                # the parties in the public network

PartyState = Literal["idle", "alerting", "calling", "connected", "busy", "unknown"]

# How the caller ID reached this party (docs/tapi.md §8.5, LINECALLPARTYID_*): a number was shown, only a
# name was shown (NAME without a valid ADDRESS: the number was not presented), the caller withheld it
# (BLOCKED), the network could not deliver it (OUTOFAREA / UNAVAIL), or nothing is known (UNKNOWN, no
# flags, or the backend cannot see the call's caller ID at all). They are different observations:
# "withheld" proves a claim of presentation restriction, "name_only" disproves a claim that a number is
# presented, "unknown" proves nothing.
Presentation = Literal["shown", "name_only", "withheld", "unavailable", "unknown"]
PRESENTATIONS: Final[tuple[Presentation, ...]] = get_args(Presentation)

PARTY_STATE_OF: Final[dict[int, PartyState]] = {
    S.OFFERING: "alerting", S.ACCEPTED: "alerting",
    S.CONNECTED: "connected", S.ONHOLD: "connected", S.ONHOLDPENDTRANSFER: "connected",
    S.BUSY: "busy",
    S.UNKNOWN: "calling", S.DIALTONE: "calling", S.DIALING: "calling", S.PROCEEDING: "calling",
    S.RINGBACK: "calling",
    S.DISCONNECTED: "idle", S.IDLE: "idle",
}
# With several calls at one phone, the one the person notices first: ringing, talking, then dialling.
_PRIORITY: Final = (S.OFFERING, S.ACCEPTED, S.CONNECTED, S.DIALING, S.PROCEEDING, S.RINGBACK, S.DIALTONE)

_C = TypeVar("_C")


def presentation_of(flags: int, number: str) -> Presentation:
    """The ``Presentation`` a LINECALLINFO ``dwCallerIDFlags`` (or any dw...IDFlags) with ``number`` means.

    BLOCKED wins over everything (a TSP may still send digits it must not show); ADDRESS needs a
    number to count as shown; OUTOFAREA / UNAVAIL are "unavailable" (the network says why there is no
    number, even if a name came); NAME with no valid number is "name_only" (the block was presented,
    its number was not); UNKNOWN or no flag is "unknown".
    """
    if flags & PID.BLOCKED:
        return "withheld"
    if flags & PID.ADDRESS and number:
        return "shown"
    if flags & (PID.OUTOFAREA | PID.UNAVAIL):
        return "unavailable"
    if flags & PID.NAME:
        return "name_only"
    return "unknown"


def current_call(calls: Iterable[_C], state_of: Callable[[_C], int]) -> _C | None:
    """The call of ``calls`` a party experiences now (see ``_PRIORITY``), else the first, else None."""
    candidates = list(calls)
    for state in _PRIORITY:
        for call in candidates:
            if state_of(call) == state:
                return call
    return candidates[0] if candidates else None


@dataclass(frozen=True, slots=True)
class PartyView:
    """What one party experiences, as far as the backend can observe it.

    ``presentation`` says how the caller ID reached it (``presentation_of``); left at "unknown" with a
    ``presented_number`` it becomes "shown" (a backend that sees a number saw it shown).
    ``presented_name`` is the caller's name shown with it (LINECALLPARTYID_NAME), evidence only: no
    requirement judges names, but "name_only" says the name came without the number.
    """

    role: str
    state: PartyState
    presented_number: str = ""        # caller ID shown to this party while it is called / connected
    reason: int = 0                   # LINECALLREASON_* of the call reaching it, 0 if unknown
    redirecting_number: str = ""      # who forwarded / transferred the call to it, "" if unknown
    connected_number: str = ""        # the far party of its current connection, "" if unknown
    off_hook: bool = False            # desk only: a hookswitch device (handset or speaker) is off-hook
    presentation: Presentation = "unknown"
    presented_name: str = ""          # caller name shown with the caller ID, "" if none or unknown

    def __post_init__(self) -> None:
        if self.presented_number and self.presentation == "unknown":
            object.__setattr__(self, "presentation", "shown")
