"""The C prototypes under which the double exports tapi32's functions, written from tapi.h for this module.

Every export is ``LONG WINAPI name(...)``. The double declares each parameter only by its width class,
since it reads all memory itself: ``D`` a DWORD (HLINEAPP, HLINE, HCALL and DWORD), ``U`` a DWORD_PTR,
``P`` any pointer (structures, LPDWORD, LPCWSTR, LPCSTR, HINSTANCE, LINECALLBACK). A caller that passes a
different number or width of arguments than the header declares corrupts the call exactly as it would on
the DLL. ``WINAPI`` is stdcall on 32-bit Windows and the platform's C convention everywhere else.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any, Final

__all__ = ["EXPORTS", "callback_type"]

EXPORTS: Final[dict[str, str]] = {
    "lineInitializeExW": "PPPPPPP",
    "lineShutdown": "D",
    "lineNegotiateAPIVersion": "DDDDPP",
    "lineNegotiateExtVersion": "DDDDDP",
    "lineGetDevCapsW": "DDDDP",
    "lineGetAddressCapsW": "DDDDDP",
    "lineOpenW": "DDPDDUDDP",
    "lineClose": "D",
    "lineSetStatusMessages": "DDD",
    "lineGetMessage": "DPD",
    "lineGetAddressStatusW": "DDP",
    "lineGetLineDevStatusW": "DP",
    "lineGetCallInfoW": "DP",
    "lineGetCallStatus": "DP",
    "lineDeallocateCall": "D",
    "lineMakeCallW": "DPPDP",
    "lineDialW": "DPD",
    "lineAnswer": "DPD",
    "lineAccept": "DPD",
    "lineDrop": "DPD",
    "lineHold": "D",
    "lineUnhold": "D",
    "lineSwapHold": "DD",
    "lineBlindTransferW": "DPD",
    "lineSetupTransferW": "DPP",
    "lineCompleteTransfer": "DDPD",
    "lineRedirectW": "DPD",
    "lineForwardW": "DDDPDPP",
    "lineDevSpecific": "DDDPD",
    "lineSetCallPrivilege": "DD",
    "lineTranslateAddressW": "DDDPDDP",
}

_C: Final = {"D": ctypes.c_uint32, "U": ctypes.c_size_t, "P": ctypes.c_void_p}
_FUNCTYPE: Final[Callable[..., Any]] = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)


def callback_type(name: str) -> Any:
    """The ctypes callback type of export ``name`` (pointers arrive as ints, NULL as None)."""
    return _FUNCTYPE(ctypes.c_int32, *(_C[kind] for kind in EXPORTS[name]))
