"""The TAPI information structures as Python values.

Each class mirrors the ``tapi.h`` structure of the same name with the ``dw`` prefix dropped and the
rest in snake_case (``dwCallerIDFlags`` -> ``caller_id_flags``); variable parts (strings, lists,
device-specific blobs) are Python values rather than size/offset pairs. The ctypes adapter and the
emulated tapi32 DLL convert to and from the C layout; the simulator and the backends speak these.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "LineAddressCaps",
    "LineAddressStatus",
    "LineCallInfo",
    "LineCallParams",
    "LineCallStatus",
    "LineDevCaps",
    "LineDevStatus",
    "LineForward",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineDevCaps:
    provider_info: str = ""
    switch_info: str = ""
    permanent_line_id: int = 0
    line_name: str = ""
    string_format: int = 0
    address_modes: int = 0
    num_addresses: int = 1
    bearer_modes: int = 0
    max_rate: int = 0
    media_modes: int = 0
    dev_cap_flags: int = 0
    max_num_active_calls: int = 0
    answer_mode: int = 0
    ring_modes: int = 0
    line_states: int = 0
    line_features: int = 0
    settable_dev_status: int = 0
    dev_specific: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineDevStatus:
    """LINEDEVSTATUS (lineGetLineDevStatus): the line device's state now, as opposed to its caps.

    ``dev_status_flags`` holds LINEDEVSTATUSFLAGS_* (CONNECTED: the provider reaches the switch;
    INSERVICE: the line can be used). LINEDEVSTATUS' terminal modes and LINEAPPINFO array are not
    carried: TAPI itself fills the latter, and nothing here judges either.
    """

    num_opens: int = 0
    open_media_modes: int = 0
    num_active_calls: int = 0
    num_on_hold_calls: int = 0
    num_on_hold_pend_calls: int = 0
    line_features: int = 0
    num_call_completions: int = 0
    ring_mode: int = 0
    signal_level: int = 0
    battery_level: int = 0
    roam_mode: int = 0
    dev_status_flags: int = 0
    dev_specific: bytes = b""
    available_media_modes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LineAddressCaps:
    line_device_id: int = 0
    address: str = ""
    dev_specific: bytes = b""
    address_sharing: int = 0
    address_states: int = 0
    call_info_states: int = 0
    caller_id_flags: int = 0
    called_id_flags: int = 0
    connected_id_flags: int = 0
    redirection_id_flags: int = 0
    redirecting_id_flags: int = 0
    call_states: int = 0
    dial_tone_modes: int = 0
    busy_modes: int = 0
    special_info: int = 0
    disconnect_modes: int = 0
    max_num_active_calls: int = 0
    max_num_on_hold_calls: int = 0
    max_num_on_hold_pending_calls: int = 0
    max_num_conference: int = 0
    max_num_trans_conf: int = 0
    addr_cap_flags: int = 0
    call_features: int = 0
    transfer_modes: int = 0
    forward_modes: int = 0
    max_forward_entries: int = 0
    max_specific_entries: int = 0
    min_fwd_num_rings: int = 0
    max_fwd_num_rings: int = 0
    address_features: int = 0
    call_features2: int = 0
    connected_modes: int = 0
    offering_modes: int = 0
    available_media_modes: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LineForward:
    """One LINEFORWARD entry. An empty ``dest_address`` means do-not-disturb."""

    forward_mode: int
    dest_address: str = ""
    caller_address: str = ""
    dest_country_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LineAddressStatus:
    num_in_use: int = 0
    num_active_calls: int = 0
    num_on_hold_calls: int = 0
    num_on_hold_pend_calls: int = 0
    address_features: int = 0
    num_rings_no_answer: int = 0
    forward: tuple[LineForward, ...] = ()
    dev_specific: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCallInfo:
    line: int = 0
    line_device_id: int = 0
    address_id: int = 0
    bearer_mode: int = 0
    rate: int = 0
    media_mode: int = 0
    app_specific: int = 0
    call_id: int = 0
    related_call_id: int = 0
    call_param_flags: int = 0
    call_states: int = 0
    origin: int = 0
    reason: int = 0
    completion_id: int = 0
    num_owners: int = 0
    num_monitors: int = 0
    country_code: int = 0
    trunk: int = 0xFFFFFFFF
    caller_id_flags: int = 0
    caller_id: str = ""
    caller_id_name: str = ""
    called_id_flags: int = 0
    called_id: str = ""
    called_id_name: str = ""
    connected_id_flags: int = 0
    connected_id: str = ""
    connected_id_name: str = ""
    redirection_id_flags: int = 0
    redirection_id: str = ""
    redirection_id_name: str = ""
    redirecting_id_flags: int = 0
    redirecting_id: str = ""
    redirecting_id_name: str = ""
    app_name: str = ""
    displayable_address: str = ""
    called_party: str = ""
    comment: str = ""
    display: str = ""
    dev_specific: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCallStatus:
    call_state: int = 0
    call_state_mode: int = 0
    call_privilege: int = 0
    call_features: int = 0
    dev_specific: bytes = b""
    call_features2: int = 0
    state_entry_time: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LineCallParams:
    """The input LINECALLPARAMS fields the simulator honours; zero means "default"."""

    bearer_mode: int = 0
    media_mode: int = 0
    call_param_flags: int = 0
    address_mode: int = 0
    address_id: int = 0
    orig_address: str = ""
    displayable_address: str = ""
    called_party: str = ""
    comment: str = ""
    target_address: str = ""
    dev_specific: bytes = b""
