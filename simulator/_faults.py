"""The catalogue of behaviours a profile can give the simulated PBX where it differs from its claims.

A profile's ``capabilities`` are what the vendor claims (PICS); ``simulation.faults`` lists, one entry
each, where the PBX *does* something else. This module is data only (the loader checks profiles
against it, the provider and the switch act on it): which TAPI functions exist and whether they are
asynchronous, and for each fault kind the fields it needs and the fields it may take. A field a kind
does not use is refused by ``validate``, so no knob is ever accepted and then ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from simulator._constants import LineAddrCapFlags, LineAddressState, LineFeature, LineForwardMode, LineTransferMode

__all__ = ["ASYNC_FUNCTIONS", "CAPS_FLAG_FAMILIES", "FAULT_FIELDS", "FUNCTIONS", "GROWING", "NEW_CALL_FUNCTIONS",
           "OCCURS", "PARTY_APP_NAME", "ROUTES_BY_KIND", "UNCOUNTED_FUNCTIONS", "caps_flag"]

# TAPI function -> asynchronous (returns a request id and later one LINE_REPLY) or synchronous.
FUNCTIONS: Final[Mapping[str, bool]] = {
    "lineInitializeEx": False, "lineShutdown": False, "lineNegotiateAPIVersion": False,
    "lineNegotiateExtVersion": False, "lineGetDevCaps": False, "lineGetAddressCaps": False,
    "lineOpen": False, "lineClose": False, "lineSetStatusMessages": False, "lineGetMessage": False,
    "lineGetAddressStatus": False, "lineGetCallInfo": False, "lineGetCallStatus": False,
    "lineDeallocateCall": False, "lineSetCallPrivilege": False, "lineGetLineDevStatus": False,
    "lineMakeCall": True, "lineDial": True, "lineAnswer": True, "lineDrop": True, "lineHold": True,
    "lineUnhold": True, "lineSwapHold": True, "lineBlindTransfer": True, "lineSetupTransfer": True,
    "lineCompleteTransfer": True, "lineRedirect": True, "lineForward": True, "lineDevSpecific": True,
}
ASYNC_FUNCTIONS: Final = frozenset(f for f, asynchronous in FUNCTIONS.items() if asynchronous)

# Functions that fill a variable-size structure (needed_size_grows)
GROWING: Final = ("lineGetDevCaps", "lineGetAddressCaps", "lineGetAddressStatus", "lineGetCallInfo",
                  "lineGetCallStatus", "lineGetLineDevStatus")

# Asynchronous functions whose successful LINE_REPLY hands the application a new call handle (lineMakeCall:
# lphCall, lineSetupTransfer: lphConsultCall): the ones reply_without_call_handle can leave it out of.
NEW_CALL_FUNCTIONS: Final = ("lineMakeCall", "lineSetupTransfer")

# caps_omit: constant families that LINEADDRESSCAPS / LINEDEVCAPS carry and a profile may leave out
_CAPS_FAMILIES: Final = {"LINEADDRCAPFLAGS_": LineAddrCapFlags, "LINEADDRESSSTATE_": LineAddressState,
                         "LINEFORWARDMODE_": LineForwardMode, "LINETRANSFERMODE_": LineTransferMode,
                         "LINEFEATURE_": LineFeature}
CAPS_FLAG_FAMILIES: Final = tuple(_CAPS_FAMILIES)


def caps_flag(name: str) -> tuple[str, int] | None:
    """(family prefix, value) of a caps_omit flag such as ``LINEADDRCAPFLAGS_ORIGOFFHOOK``; None if unknown."""
    for prefix, family in _CAPS_FAMILIES.items():
        if name.startswith(prefix) and name[len(prefix):] in family.__members__:
            return prefix, int(family[name[len(prefix):]])
    return None


# Not counted by ``after_requests``: waiting for messages and the queries, which a backend may repeat
# (tapi32 sizes a variable structure by calling twice; the bridge polls lineGetMessage), so counting
# them would make the same profile fire at a different moment on each backend.
UNCOUNTED_FUNCTIONS: Final = frozenset({
    "lineGetMessage", "lineNegotiateAPIVersion", "lineNegotiateExtVersion", "lineGetDevCaps",
    "lineGetAddressCaps", "lineGetAddressStatus", "lineGetCallInfo", "lineGetCallStatus", "lineGetLineDevStatus"})

# The application name of the helper that plays the PIXIT parties through TAPI party lines (tapi32
# backend). Its requests are the test harness's, not the application's under test: never counted.
PARTY_APP_NAME: Final = "RO conformance parties"

OCCURS: Final = ("always", "once", "every_nth")

_ERR = ("occurs", "nth")
# kind -> (required fields, optional fields); "kind" itself is implied.
FAULT_FIELDS: Final[Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    # TAPI errors and replies
    "reply_error": (("function", "error"), _ERR),
    "lost_reply": (("function",), _ERR),
    "reply_latency": (("seconds",), ("function",)),
    "events_first": ((), ()),
    "new_call_events_first": ((), ("function",)),
    "duplicate_call_handle": ((), ()),
    "call_never_idle": ((), ()),
    "reply_without_call_handle": (("function",), ()),
    "incoming_calls_unreported": ((), ()),
    "needed_size_grows": (("function",), ()),
    # spontaneous line events
    "line_close": (("after_requests",), ()),
    "out_of_service": ((), ("after_requests",)),
    "reinit": (("after_requests",), ()),
    # origination
    "origination_differs": (("behaves",), ("seconds",)),
    # forwarding
    "forward_not_stored": ((), ()),
    "forward_not_routed": ((), ("modes",)),
    "forward_query_empty": ((), ()),
    "no_forward_events": ((), ()),
    "forward_clear_ignored": ((), ()),
    # transfer
    "transfer_never_completes": (("route",), ()),
    "transfer_refused_in": (("states",), ()),
    "transfer_drops_remote": (("route",), ()),
    "desk_call_lingers": (("route",), ("call",)),
    "desk_stays_off_hook": ((), ()),
    "transfer_recall": (("route", "seconds"), ()),
    "setup_transfer_holds": ((), ()),
    "consult_without_dialtone": ((), ()),
    "native_target_first": ((), ()),
    "no_devspecific_events": ((), ()),
    "devspecific_on_open": ((), ()),
    "native_not_applied": ((), ()),
    # presentation
    "wrong_caller_id": (("path", "shows"), ("role",)),
    "wrong_connected_id": (("shows",), ("route",)),
    "wrong_redirecting_id": (("shows",), ()),
    "wrong_reason": ((), ()),
    "presentation_differs": (("field", "shows"), ()),
    # trunks and lines
    "fewer_trunks": (("channels",), ()),
    "party_release_delay": (("role", "seconds"), ()),
    # advertised capabilities
    "caps_omit_call_features": (("features",), ()),
    "call_status_omit": (("features",), ()),
    "caps_omit": (("flags",), ()),
}


# The LINECALLINFO party-ID blocks (dw<Field>IDFlags, dw<Field>ID, dw<Field>IDName) presentation_differs
# can change, and what each kind's ``shows`` may say (anything else is a validate error, never ignored).
PARTY_FIELDS: Final = ("caller", "called", "connected", "redirection", "redirecting")
SHOWS_BY_KIND: Final[Mapping[str, tuple[str, ...]]] = {
    "wrong_caller_id": ("business", "extension", "remote", "caller", "withheld"),
    "wrong_connected_id": ("business", "extension", "withheld"),
    "wrong_redirecting_id": ("caller", "remote", "withheld"),
    "presentation_differs": ("name_only", "number_only"),
}

# The Remote Office routes each kind with a ``route`` can act on (anything else is a validate error). The
# native route (§12.2: the PBX itself calls the RO phone, then the target) has no transfer, so only the
# faults about the target's call itself apply there: the RO leg lost when the target answers, and the
# connected party the target is shown.
ROUTES_BY_KIND: Final[Mapping[str, tuple[str, ...]]] = {
    "transfer_never_completes": ("blind", "consult", "native"),
    "transfer_drops_remote": ("blind", "consult", "native"),
    "desk_call_lingers": ("blind", "consult"),
    "transfer_recall": ("blind", "consult"),
    "wrong_connected_id": ("blind", "consult", "native"),
}
