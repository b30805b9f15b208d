"""The tapi32.dll function table: prototypes, errcheck, loading (tapi-reference §1, §2, §4).

``PROTOTYPES`` lists every export the adapter calls, with the header's parameter types: the ``W``
export where a character variant exists, the plain name where none does (§1). Every prototype returns
a ``LONG`` (``c_int32``) and carries an ``errcheck`` that raises ``LineError(code, function)`` for a
negative result and passes 0 and positive request ids through.

``bind(source)`` builds a ``FunctionTable`` from anything that exposes those names as C function
pointers: the real DLL (``ctypes.WinDLL("tapi32.dll")``) or ``EmulatedTapi32``, whose exports are
C callbacks with the very same prototypes. Either way the adapter calls through ctypes with the header
signature, so a wrong argument count or type fails the same way on both.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from typing import Any, Final

from conformance.backends.tapi32._structs import (
    LINEADDRESSCAPS,
    LINEADDRESSSTATUS,
    LINECALLINFO,
    LINECALLPARAMS,
    LINECALLSTATUS,
    LINEDEVCAPS,
    LINEEXTENSIONID,
    LINEFORWARDLIST,
    LINEINITIALIZEEXPARAMS,
    LINEMESSAGE,
    LINETRANSLATEOUTPUT,
)
from simulator._errors import BackendUnavailable, LineError

__all__ = ["FUNCTION_NAMES", "PROTOTYPES", "FunctionTable", "bind", "errcheck_for", "function_type",
           "load_tapi32"]

DWORD = ctypes.c_uint32
LPDWORD = ctypes.POINTER(DWORD)          # LPHLINEAPP, LPHLINE, LPHCALL are LPDWORD too (§0.2)
DWORD_PTR = ctypes.c_size_t
HINSTANCE = ctypes.c_void_p
LINECALLBACK = ctypes.c_void_p           # only for hidden-window mode; always NULL here
LPCWSTR = ctypes.c_wchar_p
LPCSTR = ctypes.c_char_p
LPVOID = ctypes.c_void_p


def _ptr(cls: type[ctypes.Structure]) -> Any:
    return ctypes.POINTER(cls)


# name -> argtypes, in header order (tapi-reference §2, §4). restype is LONG for all of them.
PROTOTYPES: Final[dict[str, tuple[Any, ...]]] = {
    "lineInitializeExW": (LPDWORD, HINSTANCE, LINECALLBACK, LPCWSTR, LPDWORD, LPDWORD,
                          _ptr(LINEINITIALIZEEXPARAMS)),
    "lineShutdown": (DWORD,),
    "lineNegotiateAPIVersion": (DWORD, DWORD, DWORD, DWORD, LPDWORD, _ptr(LINEEXTENSIONID)),
    "lineNegotiateExtVersion": (DWORD, DWORD, DWORD, DWORD, DWORD, LPDWORD),
    "lineGetDevCapsW": (DWORD, DWORD, DWORD, DWORD, _ptr(LINEDEVCAPS)),
    "lineGetAddressCapsW": (DWORD, DWORD, DWORD, DWORD, DWORD, _ptr(LINEADDRESSCAPS)),
    "lineOpenW": (DWORD, DWORD, LPDWORD, DWORD, DWORD, DWORD_PTR, DWORD, DWORD, _ptr(LINECALLPARAMS)),
    "lineClose": (DWORD,),
    "lineSetStatusMessages": (DWORD, DWORD, DWORD),
    "lineGetMessage": (DWORD, _ptr(LINEMESSAGE), DWORD),
    "lineGetAddressStatusW": (DWORD, DWORD, _ptr(LINEADDRESSSTATUS)),
    "lineGetCallInfoW": (DWORD, _ptr(LINECALLINFO)),
    "lineGetCallStatus": (DWORD, _ptr(LINECALLSTATUS)),
    "lineDeallocateCall": (DWORD,),
    "lineMakeCallW": (DWORD, LPDWORD, LPCWSTR, DWORD, _ptr(LINECALLPARAMS)),
    "lineDialW": (DWORD, LPCWSTR, DWORD),
    "lineAnswer": (DWORD, LPCSTR, DWORD),
    "lineDrop": (DWORD, LPCSTR, DWORD),
    "lineHold": (DWORD,),
    "lineUnhold": (DWORD,),
    "lineSwapHold": (DWORD, DWORD),
    "lineBlindTransferW": (DWORD, LPCWSTR, DWORD),
    "lineSetupTransferW": (DWORD, LPDWORD, _ptr(LINECALLPARAMS)),
    "lineCompleteTransfer": (DWORD, DWORD, LPDWORD, DWORD),
    "lineRedirectW": (DWORD, LPCWSTR, DWORD),
    "lineForwardW": (DWORD, DWORD, DWORD, _ptr(LINEFORWARDLIST), DWORD, LPDWORD, _ptr(LINECALLPARAMS)),
    "lineDevSpecific": (DWORD, DWORD, DWORD, LPVOID, DWORD),
    "lineAccept": (DWORD, LPCSTR, DWORD),
    "lineSetCallPrivilege": (DWORD, DWORD),
    "lineTranslateAddressW": (DWORD, DWORD, DWORD, LPCWSTR, DWORD, DWORD, _ptr(LINETRANSLATEOUTPUT)),
}
FUNCTION_NAMES: Final = tuple(PROTOTYPES)

# WINAPI is stdcall on x86 Windows and the normal ABI everywhere else (§1).
_FUNCTYPE: Callable[..., Any] = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)


def function_type(name: str) -> Any:
    """The ctypes function type of export ``name``: ``LONG WINAPI name(<argtypes>)``."""
    return _FUNCTYPE(ctypes.c_int32, *PROTOTYPES[name])


def errcheck_for(name: str) -> Callable[[int, Any, tuple[Any, ...]], int]:
    """The errcheck of ``name``: a negative LONG becomes ``LineError(code, name)``; else passed through."""

    def errcheck(result: int, func: Any, arguments: tuple[Any, ...]) -> int:
        if result < 0:
            raise LineError(result & 0xFFFFFFFF, name)
        return result

    return errcheck


class FunctionTable:
    """The bound exports, one attribute per name in ``PROTOTYPES``, each with argtypes/restype/errcheck.

    ``source`` is kept referenced so the DLL (or the emulator's callbacks) outlive the table.
    """

    def __init__(self, source: Any) -> None:
        self.source = source
        for name in FUNCTION_NAMES:
            export = getattr(source, name, None)
            if export is None:
                raise BackendUnavailable(f"tapi32: the function table has no export {name}")
            address = ctypes.cast(export, ctypes.c_void_p).value
            if not address:
                raise BackendUnavailable(f"tapi32: export {name} has a NULL address")
            fn = function_type(name)(address)
            fn.errcheck = errcheck_for(name)
            setattr(self, name, fn)

    def __getattr__(self, name: str) -> Any:   # for type checkers: exports are set dynamically
        raise AttributeError(name)


def bind(source: Any) -> FunctionTable:
    """The function table over ``source`` (a ``WinDLL`` or an ``EmulatedTapi32``)."""
    return FunctionTable(source)


def load_tapi32() -> FunctionTable:
    """Load the real ``tapi32.dll``; ``BackendUnavailable`` anywhere it cannot be loaded."""
    if sys.platform != "win32":
        raise BackendUnavailable(
            "tapi32: needs Windows (tapi32.dll); on this machine use 'tapi32:emulated', which drives the "
            "emulated tapi32.dll backed by the simulator and the run's profile")
    try:
        dll = ctypes.WinDLL("tapi32.dll")
    except OSError as exc:
        raise BackendUnavailable(f"tapi32: cannot load tapi32.dll: {exc}") from exc
    return bind(dll)
