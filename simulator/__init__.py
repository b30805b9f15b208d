"""Pure-Python TAPI 2.x provider simulator of a PBX, driven by YAML profiles.

The public surface is re-exported here; every module behind it is private (``_name.py``). The names are
resolved on first use (PEP 562), so importing one submodule - as the pytest plugin does in every pytest
run of an environment - does not load the whole simulator (transitions, jsonschema) with it.
"""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
    from simulator._callstates import (
        CALL_STATES,
        CALL_TRANSITIONS,
        CallMachine,
        CallTrigger,
    )
    from simulator._clock import (
        Clock,
        VirtualClock,
        WallClock,
    )
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
    from simulator._errors import (
        BackendUnavailable,
        BridgeError,
        LineError,
        ProfileError,
        ProfileProblem,
        TapiError,
    )
    from simulator._messages import (
        LineMessage,
    )
    from simulator._parties import (
        SimParties,
    )
    from simulator._partyview import (
        PartyView,
    )
    from simulator._profile import (
        load_profile,
        load_profile_text,
    )
    from simulator._profile_model import (
        Profile,
    )
    from simulator._provider import (
        Provider,
    )
    from simulator._structs import (
        LineAddressCaps,
        LineAddressStatus,
        LineCallInfo,
        LineCallParams,
        LineCallStatus,
        LineDevCaps,
        LineForward,
    )

_WHERE: dict[str, str] = {
    "CALL_STATES": "simulator._callstates",
    "CALL_TRANSITIONS": "simulator._callstates",
    "ApiVersion": "simulator._constants",
    "BackendUnavailable": "simulator._errors",
    "BridgeError": "simulator._errors",
    "CallMachine": "simulator._callstates",
    "CallTrigger": "simulator._callstates",
    "Clock": "simulator._clock",
    "LineAddrCapFlags": "simulator._constants",
    "LineAddrFeature": "simulator._constants",
    "LineAddressCaps": "simulator._structs",
    "LineAddressState": "simulator._constants",
    "LineAddressStatus": "simulator._structs",
    "LineCallFeature": "simulator._constants",
    "LineCallFeature2": "simulator._constants",
    "LineCallInfo": "simulator._structs",
    "LineCallInfoState": "simulator._constants",
    "LineCallOrigin": "simulator._constants",
    "LineCallParamFlags": "simulator._constants",
    "LineCallParams": "simulator._structs",
    "LineCallPartyId": "simulator._constants",
    "LineCallPrivilege": "simulator._constants",
    "LineCallReason": "simulator._constants",
    "LineCallState": "simulator._constants",
    "LineCallStatus": "simulator._structs",
    "LineDevCaps": "simulator._structs",
    "LineDevState": "simulator._constants",
    "LineDisconnectMode": "simulator._constants",
    "LineErr": "simulator._constants",
    "LineError": "simulator._errors",
    "LineForward": "simulator._structs",
    "LineForwardMode": "simulator._constants",
    "LineMediaMode": "simulator._constants",
    "LineMessage": "simulator._messages",
    "LineMsg": "simulator._constants",
    "LineTransferMode": "simulator._constants",
    "PartyView": "simulator._partyview",
    "Profile": "simulator._profile_model",
    "ProfileError": "simulator._errors",
    "ProfileProblem": "simulator._errors",
    "Provider": "simulator._provider",
    "SimParties": "simulator._parties",
    "TapiError": "simulator._errors",
    "VirtualClock": "simulator._clock",
    "WallClock": "simulator._clock",
    "load_profile": "simulator._profile",
    "load_profile_text": "simulator._profile",
    "lookup": "simulator._constants",
}

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


def __getattr__(name: str) -> typing.Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'simulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
