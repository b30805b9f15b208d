"""The Backend contract: TAPI 2.x line functions one-to-one in snake_case, a message stream, parties.

Every backend (``sim`` in-process, ``bridge`` over the network, ``tapi32`` on Windows or on the emulated
DLL) implements ``Backend``; the conformance suite is written against this and nothing else.

Rules shared by every implementation (docs/tapi.md §3):

* Synchronous functions return their out-values (or ``None``) and raise ``LineError`` on failure.
* Asynchronous functions return a positive request id, or raise ``LineError`` for an error detected up
  front. The outcome arrives later as exactly one LINE_REPLY from ``line_get_message``; a reply for a
  call-creating request carries the new handle in ``LineMessage.new_call`` (what TAPI writes into
  ``*lphCall`` at reply time); a lineDevSpecific reply carries the written-back buffer in ``data``.
* ``line_get_message`` waits at most ``timeout`` seconds (virtual seconds on the simulator, where
  waiting is what moves time on) and returns ``None`` when nothing came.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, Protocol, runtime_checkable

from simulator._constants import ApiVersion, LineCallParamFlags, LineCallPrivilege, LineMediaMode
from simulator._messages import LineMessage
from simulator._partyview import PartyState, PartyView  # one class for every backend
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

__all__ = [
    "ASYNC_FUNCTIONS",
    "DEFAULT_API_VERSION",
    "INTERACTIVEVOICE",
    "OWNER_MONITOR",
    "TAPI_NAMES",
    "Backend",
    "PartyControl",
    "PartyState",
    "PartyView",
    "Role",
]

# The defaults of the contract, by their TAPI names (plain ints: they travel over the bridge and ctypes).
DEFAULT_API_VERSION: Final = int(ApiVersion.V2_2)
OWNER_MONITOR: Final = int(LineCallPrivilege.OWNER | LineCallPrivilege.MONITOR)
INTERACTIVEVOICE: Final = int(LineMediaMode.INTERACTIVEVOICE)
# Every hands-free lineMakeCall (docs/tapi.md §11): ORIGOFFHOOK = the PBX takes the set off-hook itself,
# IDLE = on an idle call appearance, not on a call the desk may have up. TSPs that drive a real set
# (CTI "make call" on a desk phone) look at both; the suite and `probe` dial with the same parameters.
HANDS_FREE: Final = LineCallParams(call_param_flags=int(LineCallParamFlags.ORIGOFFHOOK | LineCallParamFlags.IDLE))

# Backend method -> TAPI function as the SDK spells it (note lineNegotiateAPIVersion's capitals,
# which is why this is a table and not a case conversion). tests/test_recorder.py checks that every
# line_* method of the Backend Protocol is listed here.
TAPI_NAMES: Final[Mapping[str, str]] = {
    "line_initialize_ex": "lineInitializeEx", "line_shutdown": "lineShutdown",
    "line_negotiate_api_version": "lineNegotiateAPIVersion",
    "line_negotiate_ext_version": "lineNegotiateExtVersion", "line_get_dev_caps": "lineGetDevCaps",
    "line_get_address_caps": "lineGetAddressCaps", "line_open": "lineOpen", "line_close": "lineClose",
    "line_set_status_messages": "lineSetStatusMessages", "line_get_message": "lineGetMessage",
    "line_get_address_status": "lineGetAddressStatus", "line_get_line_dev_status": "lineGetLineDevStatus",
    "line_get_call_info": "lineGetCallInfo",
    "line_get_call_status": "lineGetCallStatus", "line_deallocate_call": "lineDeallocateCall",
    "line_set_call_privilege": "lineSetCallPrivilege",
    "line_make_call": "lineMakeCall", "line_dial": "lineDial", "line_answer": "lineAnswer",
    "line_drop": "lineDrop", "line_hold": "lineHold", "line_unhold": "lineUnhold",
    "line_swap_hold": "lineSwapHold", "line_blind_transfer": "lineBlindTransfer",
    "line_setup_transfer": "lineSetupTransfer", "line_complete_transfer": "lineCompleteTransfer",
    "line_redirect": "lineRedirect", "line_forward": "lineForward", "line_dev_specific": "lineDevSpecific",
}

# Functions whose positive return value is a request id answered later by LINE_REPLY.
ASYNC_FUNCTIONS: Final[frozenset[str]] = frozenset({
    "lineMakeCall", "lineDial", "lineAnswer", "lineDrop", "lineHold", "lineUnhold", "lineSwapHold",
    "lineBlindTransfer", "lineSetupTransfer", "lineCompleteTransfer", "lineRedirect", "lineForward",
    "lineDevSpecific",
})


Role = Literal["desk", "remote_office", "target", "caller"]


@runtime_checkable
class PartyControl(Protocol):
    """Test-harness control of the parties around the PBX (not TAPI). Roles come from the PIXIT."""

    def answer(self, role: str) -> None: ...
    def reject(self, role: str) -> None: ...
    def hang_up(self, role: str) -> None: ...
    def go_off_hook(self, role: str) -> None: ...
    def call(self, role: str, number: str) -> None: ...
    def observe(self, role: str) -> PartyView: ...

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        """Wait (bounded) until ``role`` is in one of ``states``; ``None`` when the time ran out."""
        ...


@runtime_checkable
class Backend(Protocol):
    """One PBX reached through TAPI 2.x, plus control of the parties around it."""

    name: str
    parties: PartyControl

    def info(self) -> dict[str, Any]: ...
    def now(self) -> float: ...
    def close(self) -> None: ...

    # --- initialization, devices, lines (sync) ---
    def line_initialize_ex(self, app_name: str, api_version: int = DEFAULT_API_VERSION) -> tuple[int, int, int]:
        """Returns (hLineApp, number of line devices, highest API version TAPI supports)."""
        ...

    def line_shutdown(self, h_line_app: int) -> None: ...
    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int: ...
    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int,
                                   low: int, high: int) -> int: ...
    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps: ...
    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps: ...
    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = OWNER_MONITOR,
                  media_modes: int = INTERACTIVEVOICE) -> int: ...
    def line_close(self, h_line: int) -> None: ...
    def line_set_status_messages(self, h_line: int, line_states: int, address_states: int) -> None: ...
    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None: ...

    # --- queries (sync) ---
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus: ...

    def line_get_line_dev_status(self, h_line: int) -> LineDevStatus:
        """lineGetLineDevStatus: the open line's LINEDEVSTATUS (dwDevStatusFlags: CONNECTED, INSERVICE, ...).

        Raises LINEERR_INVALLINEHANDLE for a handle that is not an open line.
        """
        ...

    def line_get_call_info(self, h_call: int) -> LineCallInfo: ...
    def line_get_call_status(self, h_call: int) -> LineCallStatus: ...
    def line_deallocate_call(self, h_call: int) -> None: ...

    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        """lineSetCallPrivilege: this application's handle becomes LINECALLPRIVILEGE_OWNER or _MONITOR.

        Raises LINEERR_INVALCALLHANDLE, LINEERR_INVALCALLPRIVILEGE (not exactly one of the two) and
        LINEERR_INVALCALLSTATE (the sole owner of a non-idle call stepping down to MONITOR).
        """
        ...

    # --- call control (async: request id) ---
    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int: ...
    def line_dial(self, h_call: int, dest_address: str, country_code: int = 0) -> int: ...
    def line_answer(self, h_call: int) -> int: ...
    def line_drop(self, h_call: int) -> int: ...
    def line_hold(self, h_call: int) -> int: ...
    def line_unhold(self, h_call: int) -> int: ...
    def line_swap_hold(self, h_active_call: int, h_held_call: int) -> int: ...
    def line_blind_transfer(self, h_call: int, dest_address: str, country_code: int = 0) -> int: ...
    def line_setup_transfer(self, h_call: int, call_params: LineCallParams | None = None) -> int: ...
    def line_complete_transfer(self, h_call: int, h_consult_call: int, transfer_mode: int) -> int: ...
    def line_redirect(self, h_call: int, dest_address: str, country_code: int = 0) -> int: ...
    def line_forward(self, h_line: int, all_addresses: bool, address_id: int,
                     forward_list: tuple[LineForward, ...] | None, num_rings_no_answer: int = 0) -> int: ...
    def line_dev_specific(self, h_line: int, address_id: int, h_call: int, params: bytes) -> int: ...
