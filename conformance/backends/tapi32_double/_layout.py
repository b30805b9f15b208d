"""Where each TAPI structure member lives, for this process's bitness, and raw memory access.

Offsets and sizes come from ``_layout_table`` (compiled from mingw-w64 ``tapi.h``); this module adds
the one fact the header cannot give: how much of a structure a given negotiated API version fills (its
"fixed part", docs/tapi.md §6). Microsoft documents, per structure, the first member each TAPI version
added (e.g. LINECALLSTATUS gained ``dwCallFeatures2`` in 2.0); the fixed part of version *v* ends where
the first member added after *v* starts.

Memory is read and written at byte offsets from an address the application passed, with ``ctypes``
primitives only: no structure classes.
"""

from __future__ import annotations

import ctypes
from functools import cache
from typing import Final

from conformance.backends.tapi32_double._layout_table import LAYOUTS
from simulator._constants import ApiVersion

__all__ = ["ARCH", "POINTER_SIZE", "fixed_part", "member", "peek", "poke", "read_bytes", "sizeof", "write_bytes"]

POINTER_SIZE: Final = ctypes.sizeof(ctypes.c_void_p)
ARCH: Final = {8: "x86_64", 4: "i686"}[POINTER_SIZE]

# The first member each version added (Microsoft's structure pages, "Requirements"/remarks per member).
_ADDED_IN: Final[dict[str, dict[int, str]]] = {
    "LINEDEVCAPS": {ApiVersion.V1_4: "dwLineFeatures", ApiVersion.V2_0: "dwSettableDevStatus",
                    ApiVersion.V2_2: "PermanentLineGuid", ApiVersion.V3_0: "dwAddressTypes"},
    "LINEADDRESSCAPS": {ApiVersion.V1_4: "dwAddressFeatures", ApiVersion.V2_0: "dwPredictiveAutoTransferStates"},
    "LINECALLINFO": {ApiVersion.V2_0: "dwCallTreatment", ApiVersion.V3_0: "dwCallerIDAddressType"},
    "LINECALLSTATUS": {ApiVersion.V2_0: "dwCallFeatures2"},
    "LINEDEVSTATUS": {ApiVersion.V2_0: "dwAvailableMediaModes"},
    "LINECALLPARAMS": {ApiVersion.V2_0: "dwPredictiveAutoTransferStates", ApiVersion.V3_0: "dwAddressType"},
    "LINEFORWARD": {ApiVersion.V3_1: "dwCallerAddressType"},
    "LINEFORWARDLIST": {ApiVersion.V1_3: "ForwardList"},     # the list header is 2 DWORDs in every version
}


@cache
def _members(struct: str, arch: str = ARCH) -> dict[str, tuple[int, int]]:
    return {name: (offset, size) for name, offset, size in LAYOUTS[arch][struct][1]}


def member(struct: str, name: str, arch: str = ARCH) -> tuple[int, int]:
    """``(offset, size)`` in bytes of ``struct.name``; ``KeyError`` naming both if the header has none."""
    try:
        return _members(struct, arch)[name]
    except KeyError:
        raise KeyError(f"tapi.h has no member {struct}.{name}") from None


def sizeof(struct: str, arch: str = ARCH) -> int:
    return LAYOUTS[arch][struct][0]


@cache
def fixed_part(struct: str, api_version: int, arch: str = ARCH) -> int:
    """Bytes of ``struct`` that ``api_version`` fills: up to the first member a later version added.

    ``ForwardList`` of LINEFORWARDLIST is the entries, so its fixed part is the 8-byte header.
    Raises ``ValueError`` for a version older than 1.3, which TAPI 2.x never negotiates.
    """
    if api_version < ApiVersion.V1_3:
        raise ValueError(f"API version 0x{api_version:08X} is older than TAPI 1.3")
    later = [name for version, name in _ADDED_IN.get(struct, {}).items() if version > api_version]
    if struct == "LINEFORWARDLIST":
        later = ["ForwardList"]
    return min((member(struct, name, arch)[0] for name in later), default=sizeof(struct, arch))


def peek(address: int, size: int = 4) -> int:
    """The little-endian unsigned integer of ``size`` bytes at ``address``."""
    return int.from_bytes(ctypes.string_at(address, size), "little")


def poke(address: int, value: int, size: int = 4) -> None:
    ctypes.memmove(address, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little"), size)


def read_bytes(address: int, size: int) -> bytes:
    return ctypes.string_at(address, size) if size else b""


def write_bytes(address: int, data: bytes) -> None:
    if data:
        ctypes.memmove(address, data, len(data))
