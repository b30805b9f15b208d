"""The tapi32.dll function table: prototypes, errcheck, loading (docs/tapi.md §1, §2, §4).

``PROTOTYPES`` lists every export the adapter calls with the header's parameter types, spelled as in
``tapi.h`` (``HLINE``, ``LPHCALL``, ``LPCWSTR``, ``LPLINECALLPARAMS``, ...): the ``W`` export where a
character variant exists, the plain name where none does (§1). ``C_TYPES`` maps each spelling to its
ctypes type; ``tests/test_tapi32_prototypes.py`` compiles one function-pointer type per prototype against
``tapi.h`` for x86-64 and i686, so names, order and widths are the header's. Every prototype returns a
``LONG`` (``c_int32``) and carries an ``errcheck`` that raises ``LineError(code, function)`` for a negative
result and passes 0 and positive request ids through.

Strings (``LPCWSTR``) are passed as explicit NUL-terminated UTF-16LE buffers on every OS, so a Linux run
hands a library exactly the bytes Windows' tapi32.dll receives (ctypes' own wide strings are UTF-32 there).

``bind(source)`` binds each export on its own from anything that exposes the names as C function
pointers: a ``WinDLL``/``CDLL`` of a tapi32 library, or the emulated double. An export the library lacks
(Wine's tapi32 has no lineForwardW, for one) does not stop the load; its first use raises
``MissingExport`` naming it and the library (a ``BackendUnavailable``, so the suite reports an error,
never a failure of the PBX).

``load_tapi32(path)`` loads ``tapi32.dll`` (Windows), or any library with tapi32's exports by path:
``WinDLL`` on Windows (stdcall on 32-bit), ``CDLL`` elsewhere (the platform's C convention, 16-bit
``wchar_t``); docs/windows.md "Bring your own tapi32" gives the ABI.
"""

from __future__ import annotations

import ctypes
import os
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
    LINEDEVSTATUS,
    LINEEXTENSIONID,
    LINEFORWARDLIST,
    LINEINITIALIZEEXPARAMS,
    LINEMESSAGE,
    LINETRANSLATEOUTPUT,
)
from simulator._constants import LineErr
from simulator._errors import BackendUnavailable, LineError

__all__ = ["C_TYPES", "FUNCTION_NAMES", "PROTOTYPES", "FunctionTable", "MissingExport", "Utf16String", "bind",
           "errcheck_for", "function_type", "load_tapi32"]

DWORD = ctypes.c_uint32
LPDWORD = ctypes.POINTER(DWORD)


class Utf16String(ctypes.c_void_p):
    """``LPCWSTR`` as tapi32 reads it: a NUL-terminated UTF-16LE buffer, whatever ``wchar_t`` is here.

    ``from_param`` encodes a ``str`` into a fresh buffer that ctypes keeps alive for the call; ``None``
    is NULL. Characters outside the BMP become surrogate pairs, as on Windows.
    """

    @classmethod
    def from_param(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            raw = (value + "\0").encode("utf-16-le", errors="surrogatepass")
            return ctypes.create_string_buffer(raw, len(raw))
        raise TypeError(f"LPCWSTR: expected str or None, not {type(value).__name__}")


def _ptr(cls: type[ctypes.Structure]) -> Any:
    return ctypes.POINTER(cls)


# tapi.h spelling -> ctypes type (HLINEAPP, HLINE, HCALL are DECLARE_OPAQUE32 DWORDs, §0.2).
C_TYPES: Final[dict[str, Any]] = {
    "DWORD": DWORD, "HLINEAPP": DWORD, "HLINE": DWORD, "HCALL": DWORD,
    "LPDWORD": LPDWORD, "LPHLINEAPP": LPDWORD, "LPHLINE": LPDWORD, "LPHCALL": LPDWORD,
    "DWORD_PTR": ctypes.c_size_t, "HINSTANCE": ctypes.c_void_p, "LINECALLBACK": ctypes.c_void_p,
    "LPVOID": ctypes.c_void_p, "LPCSTR": ctypes.c_char_p, "LPCWSTR": Utf16String,
    "LPLINEINITIALIZEEXPARAMS": _ptr(LINEINITIALIZEEXPARAMS), "LPLINEEXTENSIONID": _ptr(LINEEXTENSIONID),
    "LPLINEDEVCAPS": _ptr(LINEDEVCAPS), "LPLINEADDRESSCAPS": _ptr(LINEADDRESSCAPS),
    "LPLINECALLPARAMS": _ptr(LINECALLPARAMS), "LPLINEMESSAGE": _ptr(LINEMESSAGE),
    "LPLINEADDRESSSTATUS": _ptr(LINEADDRESSSTATUS), "LPLINEDEVSTATUS": _ptr(LINEDEVSTATUS),
    "LPLINECALLINFO": _ptr(LINECALLINFO),
    "LPLINECALLSTATUS": _ptr(LINECALLSTATUS), "LPLINEFORWARDLIST": _ptr(LINEFORWARDLIST),
    "LPLINETRANSLATEOUTPUT": _ptr(LINETRANSLATEOUTPUT),
}

# name -> parameter types in header order (§2, §4). restype is LONG for all of them.
PROTOTYPES: Final[dict[str, tuple[str, ...]]] = {
    "lineInitializeExW": ("LPHLINEAPP", "HINSTANCE", "LINECALLBACK", "LPCWSTR", "LPDWORD", "LPDWORD",
                          "LPLINEINITIALIZEEXPARAMS"),
    "lineShutdown": ("HLINEAPP",),
    "lineNegotiateAPIVersion": ("HLINEAPP", "DWORD", "DWORD", "DWORD", "LPDWORD", "LPLINEEXTENSIONID"),
    "lineNegotiateExtVersion": ("HLINEAPP", "DWORD", "DWORD", "DWORD", "DWORD", "LPDWORD"),
    "lineGetDevCapsW": ("HLINEAPP", "DWORD", "DWORD", "DWORD", "LPLINEDEVCAPS"),
    "lineGetAddressCapsW": ("HLINEAPP", "DWORD", "DWORD", "DWORD", "DWORD", "LPLINEADDRESSCAPS"),
    "lineOpenW": ("HLINEAPP", "DWORD", "LPHLINE", "DWORD", "DWORD", "DWORD_PTR", "DWORD", "DWORD",
                  "LPLINECALLPARAMS"),
    "lineClose": ("HLINE",),
    "lineSetStatusMessages": ("HLINE", "DWORD", "DWORD"),
    "lineGetMessage": ("HLINEAPP", "LPLINEMESSAGE", "DWORD"),
    "lineGetAddressStatusW": ("HLINE", "DWORD", "LPLINEADDRESSSTATUS"),
    "lineGetLineDevStatusW": ("HLINE", "LPLINEDEVSTATUS"),
    "lineGetCallInfoW": ("HCALL", "LPLINECALLINFO"),
    "lineGetCallStatus": ("HCALL", "LPLINECALLSTATUS"),
    "lineDeallocateCall": ("HCALL",),
    "lineMakeCallW": ("HLINE", "LPHCALL", "LPCWSTR", "DWORD", "LPLINECALLPARAMS"),
    "lineDialW": ("HCALL", "LPCWSTR", "DWORD"),
    "lineAnswer": ("HCALL", "LPCSTR", "DWORD"),
    "lineDrop": ("HCALL", "LPCSTR", "DWORD"),
    "lineHold": ("HCALL",),
    "lineUnhold": ("HCALL",),
    "lineSwapHold": ("HCALL", "HCALL"),
    "lineBlindTransferW": ("HCALL", "LPCWSTR", "DWORD"),
    "lineSetupTransferW": ("HCALL", "LPHCALL", "LPLINECALLPARAMS"),
    "lineCompleteTransfer": ("HCALL", "HCALL", "LPHCALL", "DWORD"),
    "lineRedirectW": ("HCALL", "LPCWSTR", "DWORD"),
    "lineForwardW": ("HLINE", "DWORD", "DWORD", "LPLINEFORWARDLIST", "DWORD", "LPHCALL", "LPLINECALLPARAMS"),
    "lineDevSpecific": ("HLINE", "DWORD", "HCALL", "LPVOID", "DWORD"),
    "lineAccept": ("HCALL", "LPCSTR", "DWORD"),
    "lineSetCallPrivilege": ("HCALL", "DWORD"),
    "lineTranslateAddressW": ("HLINEAPP", "DWORD", "DWORD", "LPCWSTR", "DWORD", "DWORD", "LPLINETRANSLATEOUTPUT"),
}
FUNCTION_NAMES: Final = tuple(PROTOTYPES)

# WINAPI is stdcall on x86 Windows and the normal ABI everywhere else (§1).
_FUNCTYPE: Callable[..., Any] = getattr(ctypes, "WINFUNCTYPE", ctypes.CFUNCTYPE)


def function_type(name: str) -> Any:
    """The ctypes function type of export ``name``: ``LONG WINAPI name(<argtypes>)``."""
    return _FUNCTYPE(ctypes.c_int32, *(C_TYPES[c_type] for c_type in PROTOTYPES[name]))


def errcheck_for(name: str) -> Callable[[int, Any, tuple[Any, ...]], int]:
    """The errcheck of ``name``: a negative LONG becomes ``LineError(code, name)``; else passed through."""

    def errcheck(result: int, func: Any, arguments: tuple[Any, ...]) -> int:
        if result < 0:
            raise LineError(result & 0xFFFFFFFF, name)
        return result

    return errcheck


class MissingExport(BackendUnavailable):
    """A call to an export the loaded library does not have.

    Not a ``LineError``: the PBX did not refuse anything, the tapi32 library in use cannot do it, so the
    suite reports an *error* naming the export and the library instead of judging the PBX. ``code``
    (LINEERR_OPERATIONUNAVAIL) and ``function`` are there for callers that log like a LineError.
    """

    def __init__(self, name: str, library: str) -> None:
        self.code = int(LineErr.OPERATIONUNAVAIL)
        self.function = name
        super().__init__(f"{name}: {library} has no export {name} (LINEERR_OPERATIONUNAVAIL); use a tapi32 "
                         "library that has it")


class FunctionTable:
    """The bound exports, one attribute per name in ``PROTOTYPES``, each with argtypes/restype/errcheck.

    Each export is bound on its own; one the library lacks (or exports as NULL) is listed in ``missing``
    and its attribute raises ``MissingExport`` when called. ``source`` is kept referenced so the library
    (or the double's callbacks) outlive the table.
    """

    def __init__(self, source: Any, library: str = "tapi32") -> None:
        self.source = source
        self.library = library
        self.missing: tuple[str, ...] = ()
        missing = []
        for name in FUNCTION_NAMES:
            try:
                export = getattr(source, name, None)
            except OSError:                 # ctypes: "function 'x' not found" on a DLL/shared library
                export = None
            address = ctypes.cast(export, ctypes.c_void_p).value if export is not None else None
            if not address:
                missing.append(name)
                setattr(self, name, self._missing(name))
                continue
            fn = function_type(name)(address)
            fn.errcheck = errcheck_for(name)
            setattr(self, name, fn)
        self.missing = tuple(missing)
        if len(missing) == len(FUNCTION_NAMES):
            raise BackendUnavailable(f"tapi32: {library} has none of tapi32's exports")

    def _missing(self, name: str) -> Callable[..., int]:
        library = self.library

        def missing(*_args: Any) -> int:
            raise MissingExport(name, library)

        return missing

    def __getattr__(self, name: str) -> Any:   # for type checkers: exports are set dynamically
        raise AttributeError(name)


def bind(source: Any, library: str = "the emulated tapi32") -> FunctionTable:
    """The function table over ``source`` (a loaded library or the double)."""
    return FunctionTable(source, library)


def load_tapi32(path: str | os.PathLike[str] | None = None) -> FunctionTable:
    """Load ``tapi32.dll`` (Windows, no ``path``) or the tapi32-like library at ``path``.

    Raises ``BackendUnavailable`` when it cannot be loaded, naming the library and the reason.
    """
    if path is None and sys.platform != "win32":
        raise BackendUnavailable(
            "tapi32: needs Windows (tapi32.dll); on this machine use 'tapi32:emulated', which drives the "
            "emulated tapi32.dll backed by the simulator and the run's profile, or 'tapi32:PATH' with a "
            "library that has tapi32's exports")
    name = "tapi32.dll" if path is None else os.fspath(path)
    if path is not None and not os.path.isfile(name):
        raise BackendUnavailable(f"tapi32: no library at {name}")
    loader: Callable[[str], Any] = getattr(ctypes, "WinDLL", ctypes.CDLL)
    try:
        library = loader(name)
    except OSError as exc:
        raise BackendUnavailable(f"tapi32: cannot load {name}: {exc} (a library of this Python's bitness, "
                                 f"{ctypes.sizeof(ctypes.c_void_p) * 8}-bit, is needed)") from exc
    return bind(library, name)
