"""The trace's value encoding: every value the Backend contract passes survives JSON exactly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conformance._trace import decode, decode_error, encode, encode_error
from conformance.backend import PartyView
from simulator._constants import LineErr, LineMsg
from simulator._errors import BridgeError, LineError
from simulator._messages import LineMessage
from simulator._structs import (
    LineAddressCaps,
    LineAddressStatus,
    LineCallInfo,
    LineCallParams,
    LineCallStatus,
    LineDevCaps,
    LineDevStatus,
    LineForward,
)

VALUES: list[Any] = [
    None, True, 0x80000048, 1.25, "äöü", b"\x00\xff", (1, 2, 3), frozenset({"idle", "alerting"}),
    LineDevCaps(provider_info="TSP", dev_specific=b"RO=1", line_features=0x18C),
    LineAddressCaps(address="201", forward_modes=0x111), LineCallInfo(caller_id="+4989", trunk=0xFFFFFFFF),
    LineCallStatus(call_state=4, state_entry_time=1.5), LineCallParams(orig_address="201"),
    LineAddressStatus(forward=(LineForward(forward_mode=1, dest_address="0017"),)),
    LineDevStatus(num_opens=2, dev_status_flags=0x1, line_features=0x8, dev_specific=b"\x01"),
    LineMessage(device=0x30001, msg=LineMsg.REPLY, param1=7, param2=0x80000048, new_call=0x30002, data=b"x",
                time=2.0),
    PartyView("target", "alerting", presented_number="+4989", reason=1),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_values_round_trip_through_json(value: Any) -> None:
    again = decode(json.loads(json.dumps(encode(value))))
    assert again == value and type(again) is type(value)
    if isinstance(value, LineMessage):
        assert again.time == value.time and isinstance(again.msg, LineMsg)


def test_enum_members_are_stored_as_numbers() -> None:
    assert encode(LineErr.OPERATIONFAILED) == 0x80000048
    assert encode(LineDevCaps(line_features=LineMsg.REPLY))["line_features"] == 12


def test_errors_round_trip() -> None:
    err = decode_error(encode_error(LineError(LineErr.INVALCALLSTATE, "lineDrop", "idle")))
    assert isinstance(err, LineError) and err.code == LineErr.INVALCALLSTATE and err.function == "lineDrop"
    bridge = decode_error(encode_error(BridgeError("bridge: closed")))
    assert isinstance(bridge, BridgeError) and str(bridge) == "bridge: closed"


def test_unknown_values_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot trace a value of type object"):
        encode(object())
