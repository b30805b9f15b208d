"""The profile as frozen values: PICS (what the PBX claims), PIXIT (what a run needs) and simulation.

The loader (``_profile.py``) validates the YAML against ``profile.schema.json`` and builds these; nothing
else in the project reads YAML. Enumerated values are plain lowercase strings as written in YAML, except
TAPI constants, which are kept as ints (the YAML names them in full, e.g. ``LINEERR_OPERATIONFAILED``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from simulator._constants import ApiVersion

__all__ = [
    "CallerIdRules",
    "Capabilities",
    "Expect",
    "ExternalParty",
    "Fault",
    "Forwarding",
    "NativeRemoteOffice",
    "Pixit",
    "Profile",
    "Simulation",
    "Station",
    "Timing",
    "Transfer",
]

Origination = Literal["auto", "prompt_offering", "prompt_silent", "reject"]
Presented = Literal["business", "extension", "remote", "caller", "withheld"]
ConsultState = Literal["connected", "ringback", "proceeding", "busy"]
Behaviour = Literal["answer", "busy", "no_answer", "reject"]


@dataclass(frozen=True)
class Station:
    """An internal extension with a desk phone and a TAPI line device."""

    extension: str
    business_number: str          # the DDI an external party is shown for this station
    name: str = ""


@dataclass(frozen=True)
class ExternalParty:
    """A number in the public network, with scripted behaviour when called."""

    number: str                   # as dialled after the trunk prefix (e.g. "01711234567")
    name: str = ""
    behaviour: Behaviour = "answer"
    answer_after_rings: int = 1


@dataclass(frozen=True)
class Forwarding:
    modes: tuple[str, ...] = ("UNCOND",)   # LINEFORWARDMODE suffixes
    query: bool = True                       # lineGetAddressStatus reports the list (FWDSTATUSVALID)
    status_events: bool = True               # LINE_ADDRESSSTATE(FORWARD) after a change
    max_entries: int = 1
    clear: bool = True                       # lineForward with a NULL list cancels forwarding
    desk_sees_forwarded_call: Literal["nothing", "offering_disconnected"] = "nothing"


@dataclass(frozen=True)
class Transfer:
    blind: bool = True
    consultation: bool = True
    # consult-call states in which lineCompleteTransfer(TRANSFER) is accepted
    complete_in: tuple[ConsultState, ...] = ("connected", "ringback", "proceeding")


@dataclass(frozen=True)
class NativeRemoteOffice:
    """A vendor one-number feature reached with lineDevSpecific (docs/tapi.md §12)."""

    mechanism: Literal["none", "devspecific"] = "none"
    ext_version: int = 0
    activate: str = ""            # request template, ASCII, "{number}" is the RO number
    deactivate: str = ""
    event_param1: int = 0         # LINE_DEVSPECIFIC dwParam1 sent when the RO state changes


@dataclass(frozen=True)
class CallerIdRules:
    """Number an external party is shown, per call path (PBX claim)."""

    direct: Presented = "business"
    blind_transfer: Presented = "business"
    consult_transfer: Presented = "business"
    forwarded: Presented = "caller"


@dataclass(frozen=True)
class Capabilities:
    forwarding: Forwarding | None = field(default_factory=Forwarding)   # None: no forwarding at all
    origination: Origination = "auto"
    transfer: Transfer = field(default_factory=Transfer)
    native_remote_office: NativeRemoteOffice = field(default_factory=NativeRemoteOffice)
    caller_id: CallerIdRules = field(default_factory=CallerIdRules)


@dataclass(frozen=True)
class Timing:
    """Simulated delays in seconds (virtual time unless the wall clock drives the scheduler)."""

    reply_latency: float = 0.05
    dial: float = 0.2
    proceeding: float = 0.3
    ring_period: float = 4.0
    prompt_timeout: float = 0.0       # prompted origination: 0 = waits forever for the handset
    no_answer_timeout: float = 60.0   # an unanswered external leg is released after this


@dataclass(frozen=True)
class Fault:
    """Where the PBX behaves otherwise than it claims (one entry of ``simulation.faults``).

    ``kind`` names the behaviour; the fields it needs and may take are listed in ``_faults.FAULT_FIELDS``
    and explained in docs/profiles.md ("Behaviour: faults"). Unused fields keep their zero value.
    """

    kind: str
    function: str = ""
    error: int = 0
    seconds: float = 0.0
    route: str = ""                 # blind | consult | native (_faults.ROUTES_BY_KIND); "" = every route
    path: str = ""
    shows: str = ""
    field: str = ""                 # presentation_differs: the LINECALLINFO party-ID block (_faults.PARTY_FIELDS)
    after_requests: int = 0
    features: int = 0
    occurs: str = "always"          # always | once | every_nth (kinds reply_error, lost_reply)
    nth: int = 0                    # with occurs: every_nth
    behaves: str = ""               # origination_differs: prompt_offering | prompt_silent | prompt_then_auto
    modes: tuple[str, ...] = ()     # forward_not_routed: LINEFORWARDMODE suffixes not applied (empty: all)
    states: tuple[str, ...] = ()    # transfer_refused_in: consult-call states refused despite the claim
    channels: int = 0               # fewer_trunks: channels that really exist
    flags: tuple[str, ...] = ()     # caps_omit: full constant names left out of LINEADDRESSCAPS/LINEDEVCAPS
    role: str = ""                  # party_release_delay: the PIXIT role whose line is released late
    call: str = ""                  # desk_call_lingers (route consult): held | consultation | both ("" = both)

    def fires(self, occurrence: int) -> bool:
        """Whether the ``occurrence``-th call (1-based) of the function is hit (reply_error, lost_reply)."""
        if self.occurs == "once":
            return occurrence == 1
        if self.occurs == "every_nth":
            return self.nth > 0 and occurrence % self.nth == 0
        return True


@dataclass(frozen=True)
class Simulation:
    api_version: int = ApiVersion.V2_2            # highest version the provider negotiates
    dialtone_state: bool = True                   # show DIALTONE before DIALING
    proceeding_state: bool = True                 # show PROCEEDING before RINGBACK
    # automatic origination only when lineMakeCall asks for it (LINECALLPARAMFLAGS_ORIGOFFHOOK); without
    # the flag the desk set is prompted (OFFERING), as some TSPs do (docs/tapi.md §11.1)
    origoffhook_needs_flag: bool = False
    reply_order: Literal["reply_first", "events_first"] = "reply_first"
    # how a trunk shortage shows: LINE_REPLY error, BUSY(TRUNK), DISCONNECTED(CONGESTION), or the request
    # refused synchronously (a negative return, MS docs "lineMakeCall" / "lineDial" / "lineBlindTransfer")
    trunk_exhaustion: Literal["reply_error", "busy", "disconnected", "refused"] = "reply_error"
    timing: Timing = field(default_factory=Timing)
    faults: tuple[Fault, ...] = ()

    def fault(self, kind: str, **where: object) -> Fault | None:
        """The first fault of ``kind`` whose fields equal ``where`` (e.g. ``path="blind_transfer"``).

        A profile may carry several faults of one kind (one per path, route or function), so this is
        the one lookup every fault knob goes through.
        """
        return next((f for f in self.faults
                     if f.kind == kind and all(getattr(f, k) == v for k, v in where.items())), None)


@dataclass(frozen=True)
class Expect:
    """The outcome the profile's author expects from the suite (``expect:``); checked by ``run`` and tests."""

    verdict: Literal["compatible", "not-compatible", "undetermined"]
    route: str | None                  # native | blind | consult, None when not compatible
    fails: tuple[str, ...] = ()        # requirement ids expected to fail, sorted; () for an honest PBX

    def mismatches(self, verdict: str, route: str | None, failed: set[str]) -> list[str]:
        """What differs between this expectation and a run's result (empty: as expected)."""
        out = []
        if verdict != self.verdict:
            out.append(f"verdict {verdict} (expected {self.verdict})")
        if route != self.route:
            out.append(f"route {route or 'null'} (expected {self.route or 'null'})")
        if failed != set(self.fails):
            out.append(f"fails [{', '.join(sorted(failed))}] (expected [{', '.join(self.fails)}])")
        return out


@dataclass(frozen=True)
class Pixit:
    """What a run needs: who plays which role, the numbers to dial, and the bounds of every wait."""

    desk: str                      # extension of the business phone under test
    remote_office: str             # RO number (an external number)
    target: str                    # the party the RO user calls (an external number)
    caller: str                    # an external party that calls the business number
    dial_prefix: str = "0"         # prepended to an external number when dialling it
    reply_timeout: float = 5.0     # seconds to wait for a LINE_REPLY
    state_timeout: float = 10.0    # seconds to wait for a call-state change
    answer_timeout: float = 30.0   # seconds to wait for a remote party to answer
    party_lines: Mapping[str, str] = field(default_factory=dict)   # role -> TAPI line name (real PBX)
    # role -> {media_modes: [LINEMEDIAMODE names], accept: bool, dial_prefix: str} for its party line
    party_line_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    name: str
    path: str
    vendor: str
    description: str
    source: str
    stations: tuple[Station, ...]
    trunks: int
    externals: tuple[ExternalParty, ...]
    default_external: ExternalParty
    pixit: Pixit
    capabilities: Capabilities
    simulation: Simulation
    expect: Expect | None = None      # the author's expected outcome, when the file states one
    # dotted keys the profile marks ``undocumented`` (no source decides them); the values above hold what
    # the simulator plays instead (not offered), and the suite does not judge what rests on these keys
    undocumented: frozenset[str] = frozenset()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def station(self, extension: str) -> Station:
        for st in self.stations:
            if st.extension == extension:
                return st
        raise KeyError(extension)

    def dial_string(self, number: str) -> str:
        """What the desk line dials to reach ``number`` (internal extensions go as they are)."""
        if any(st.extension == number for st in self.stations):
            return number
        return self.pixit.dial_prefix + number
