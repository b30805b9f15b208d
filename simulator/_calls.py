"""Devices and call appearances: the objects the switch connects and the state machine moves.

Every party is a ``Device``: a station (an extension with a desk phone) or an external number in the
public network. Every call leg at a device is a ``LineCall`` (one TAPI call appearance, one model of the
shared ``CallMachine``). Two legs talk when they are each other's ``peer``; a transfer re-pairs peers.
An external leg holds one trunk channel from its creation until it goes IDLE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from simulator._constants import LineCallPartyId, LineCallPrivilege, LineCallState, LineMediaMode
from simulator._structs import LineForward

__all__ = ["MONITOR", "OWNER", "Device", "LineCall", "PartyId"]

# Plain ints: privileges are tested on every event, and IntFlag arithmetic runs in Python.
OWNER: Final = int(LineCallPrivilege.OWNER)
MONITOR: Final = int(LineCallPrivilege.MONITOR)


@dataclass(slots=True)
class PartyId:
    """Number + name of one party-ID block of LINECALLINFO; ``blocked`` = withheld."""

    number: str = ""
    name: str = ""
    blocked: bool = False

    @property
    def flags(self) -> int:
        """The block's ``dw<Field>IDFlags`` (docs/tapi.md §8.5): BLOCKED alone when withheld, else ADDRESS
        for a number and NAME for a name, UNKNOWN when the block carries neither."""
        if self.blocked:
            return int(LineCallPartyId.BLOCKED)
        flags = (LineCallPartyId.ADDRESS if self.number else 0) | (LineCallPartyId.NAME if self.name else 0)
        return int(flags or LineCallPartyId.UNKNOWN)


@dataclass(eq=False, slots=True)
class Device:
    """A station or an external number; ``line_id`` is its TAPI device id, if it has a line."""

    number: str
    kind: str                       # "station" | "external"
    name: str = ""
    business_number: str = ""       # stations: the DDI shown outside
    behaviour: str = "answer"       # externals: answer | busy | no_answer | reject
    answer_after_rings: int = 1
    line_id: int | None = None
    calls: list[LineCall] = field(default_factory=list)
    handset_off_hook: bool = False
    speaker_on: bool = False
    forwarding: tuple[LineForward, ...] = ()
    num_rings_no_answer: int = 0
    native_ro: str = ""             # native Remote Office destination while active

    @property
    def is_station(self) -> bool:
        return self.kind == "station"

    @property
    def off_hook(self) -> bool:
        return self.handset_off_hook or self.speaker_on

    def live_calls(self) -> list[LineCall]:
        return [c for c in self.calls if c.state_name != "IDLE"]


class LineCall:
    """One call appearance at a device. ``state_name`` is owned by the CallMachine."""

    __slots__ = (
        "app_name", "call_id", "called", "caller", "connected", "consult_for", "device", "dial_string",
        "entered_at", "handles", "media_mode", "mode", "origin", "outgoing", "peer",
        "pending", "reason", "redirecting", "redirection", "related_call_id", "ro_desk", "ro_route", "shadow",
        "state_name", "timers", "trunk",
    )

    def __init__(self, device: Device, call_id: int, *, origin: int, reason: int, outgoing: bool) -> None:
        self.device = device
        self.call_id = call_id
        self.related_call_id = 0
        self.origin = origin
        self.reason = reason
        self.outgoing = outgoing
        self.state_name = "UNKNOWN"
        self.mode = 0
        self.entered_at = 0.0
        self.peer: LineCall | None = None
        self.caller = PartyId()
        self.called = PartyId()
        self.connected = PartyId()
        self.redirecting = PartyId()
        self.redirection = PartyId()
        self.handles: dict[int, int] = {}   # hCall -> privilege, for every app that holds a handle
        self.timers: list[Any] = []          # pending scheduler timers owned by this leg
        self.consult_for: LineCall | None = None   # a consultation call: the call it consults for
        self.trunk = False
        self.dial_string = ""
        self.app_name = ""
        self.media_mode = int(LineMediaMode.INTERACTIVEVOICE)
        self.pending: Any = None             # what to do when a prompted origination is accepted
        self.shadow: LineCall | None = None  # native Remote Office: the desk appearance <-> the RO leg
        # The target's leg of a Remote Office call: on which route (blind, consult, native) it reached the
        # target and for which desk, so route faults (wrong_connected_id, transfer_drops_remote) know it.
        self.ro_route = ""
        self.ro_desk: Device | None = None

    @property
    def state(self) -> LineCallState:
        return LineCallState[self.state_name]

    @property
    def has_owner(self) -> bool:
        """Some application holds an OWNER handle (only an owner can clear a DISCONNECTED call)."""
        return any(p & OWNER for p in self.handles.values())

    @property
    def live(self) -> bool:
        return self.state_name != "IDLE"

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def __repr__(self) -> str:
        return f"<LineCall {self.call_id} {self.device.number} {self.state_name}>"
