"""Pure-Python TAPI 2.x provider simulator of a PBX, driven by YAML profiles.

The public surface is re-exported here; every module behind it is private (``_name.py``).
"""

from simulator._callstates import CALL_STATES, CALL_TRANSITIONS, CallMachine, CallTrigger
from simulator._clock import Clock, VirtualClock, WallClock
from simulator._constants import (
    ApiVersion,
    LineAddrCapFlags,
    LineAddressState,
    LineAddrFeature,
    LineCallFeature,
    LineCallFeature2,
    LineCallInfoState,
    LineCallOrigin,
    LineCallParamFlags,
    LineCallPartyId,
    LineCallPrivilege,
    LineCallReason,
    LineCallState,
    LineDevState,
    LineDisconnectMode,
    LineErr,
    LineForwardMode,
    LineMediaMode,
    LineMsg,
    LineTransferMode,
    lookup,
)
from simulator._errors import BackendUnavailable, BridgeError, LineError, ProfileError, ProfileProblem, TapiError
from simulator._messages import LineMessage
from simulator._parties import SimParties
from simulator._partyview import PartyView
from simulator._profile import load_profile, load_profile_text
from simulator._profile_model import Profile
from simulator._provider import Provider
from simulator._structs import (
    LineAddressCaps,
    LineAddressStatus,
    LineCallInfo,
    LineCallParams,
    LineCallStatus,
    LineDevCaps,
    LineForward,
)

__all__ = [
    "CALL_STATES",
    "CALL_TRANSITIONS",
    "ApiVersion",
    "BackendUnavailable",
    "BridgeError",
    "CallMachine",
    "CallTrigger",
    "Clock",
    "LineAddrCapFlags",
    "LineAddrFeature",
    "LineAddressCaps",
    "LineAddressState",
    "LineAddressStatus",
    "LineCallFeature",
    "LineCallFeature2",
    "LineCallInfo",
    "LineCallInfoState",
    "LineCallOrigin",
    "LineCallParamFlags",
    "LineCallParams",
    "LineCallPartyId",
    "LineCallPrivilege",
    "LineCallReason",
    "LineCallState",
    "LineCallStatus",
    "LineDevCaps",
    "LineDevState",
    "LineDisconnectMode",
    "LineErr",
    "LineError",
    "LineForward",
    "LineForwardMode",
    "LineMediaMode",
    "LineMessage",
    "LineMsg",
    "LineTransferMode",
    "PartyView",
    "Profile",
    "ProfileError",
    "ProfileProblem",
    "Provider",
    "SimParties",
    "TapiError",
    "VirtualClock",
    "WallClock",
    "load_profile",
    "load_profile_text",
    "lookup",
]
